/**
 * The service API's requests and results, each written once: TypeBox
 * schemas (plain JSON Schema) from which
 * - validation.ts compiles the one check both transports run (REST as
 *   fastify's validator, gRPC in its handlers), with the same messages;
 * - @fastify/swagger writes the OpenAPI document (descriptions, examples,
 *   bounds), and fastify serializes responses;
 * - Static<> gives the TypeScript types the service and the transports use.
 */
import { Type, type Static } from "typebox";

/** Request bounds. */
export const LIMITS = {
  kMin: 1,
  kMax: 50,
  kDefault: 3,
  contextMaxChars: 4000,
  prefixMaxChars: 64,
  scoreMaxWords: 100,
  wordMaxChars: 64,
} as const;

// String bounds count code points (Unicode characters), as ajv's maxLength does.
const context = Type.String({
  maxLength: LIMITS.contextMaxChars,
  description: "Text typed so far, before the current word.",
  examples: ["I would like to"],
});

// The schema's pattern is models/model-spec.ts's (MODEL_SPEC_PATTERN), written out: this file imports nothing of the service.
const model = Type.Optional(
  Type.String({
    maxLength: 128,
    pattern: "^[A-Za-z0-9._-]+(@[A-Za-z0-9._+-]+)?$",
    description:
      "The model to answer with: `name` (the version it serves now) or `name@version` (that version); GET /v1/models lists them. Absent: the default model. Unknown: 404 naming `model`.",
    examples: ["lstm512-keyboard-int8", "lstm512-keyboard-int8@1.4.0+int8"],
  }),
);

export const PredictRequest = Type.Object(
  {
    context,
    model,
    prefix: Type.Optional(
      Type.String({
        maxLength: LIMITS.prefixMaxChars,
        description:
          "Letters typed of the current word; only words completing it are returned (starting with it; the prefix itself, already typed in full, is not).",
        examples: ["b"],
      }),
    ),
    k: Type.Optional(
      Type.Integer({
        minimum: LIMITS.kMin,
        maximum: LIMITS.kMax,
        default: LIMITS.kDefault,
        description: "How many predictions to return (at most).",
      }),
    ),
    casing: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          "Case each word as a keyboard shows it: its usual written form (I, States, Monday), the form the user wrote earlier in the context, a capital at a sentence start, the typed prefix's case. false: the model's lower-case words.",
      }),
    ),
    blockOffensive: Type.Optional(
      Type.Boolean({
        default: true,
        description: "Never suggest a word of the offensive-word list (the top-k stays exact over the other words). /v1/score still scores them.",
      }),
    ),
    correct: Type.Optional(
      Type.Boolean({
        default: true,
        description:
          "Read the prefix as typed on a touch keyboard, which may hold a mistake (a neighbouring key, a letter left out, doubled or swapped, a missing apostrophe: dont -> don't): words are ranked by log p(word | context) + log p(prefix as typed | the word's first letters), exactly, and a word the literal prefix does not start is marked `corrected`. false: only words starting with the prefix, as typed.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PredictRequest = Static<typeof PredictRequest>;

export const ScoreRequest = Type.Object(
  {
    context,
    model,
    words: Type.Array(Type.String({ maxLength: LIMITS.wordMaxChars }), {
      minItems: 1,
      maxItems: LIMITS.scoreMaxWords,
      description: "Candidate next words to score, in any case (a word is scored in its normalized, lower-case form, so a cased suggestion scores its predicted logProb).",
      examples: [["be", "go", "xyzzyq"]],
    }),
  },
  { additionalProperties: false },
);
export type ScoreRequest = Static<typeof ScoreRequest>;

const ModelRef = Type.Object({ name: Type.String(), version: Type.String() }, { additionalProperties: false });
export type ModelRef = Static<typeof ModelRef>;

const Prediction = Type.Object(
  {
    word: Type.String({
      description:
        "Cased as the request's `casing` says (lower case with casing false); may be outside the model's vocabulary: a rare word of the lexicon or a recent word of the context.",
    }),
    probability: Type.Number({ description: "p(word | context), times p(prefix as typed | word) when the word is a correction." }),
    logProb: Type.Number({ description: "Natural log of probability." }),
    corrected: Type.Boolean({ description: "Whether the word is a correction of the prefix (it does not start with the prefix as typed); always false with `correct` false." }),
  },
  { additionalProperties: false },
);
export type Prediction = Static<typeof Prediction>;

export const PredictResult = Type.Object(
  {
    predictions: Type.Array(Prediction, { description: "Sorted by probability, highest first; at most k; exact (never approximated)." }),
    model: ModelRef,
  },
  { additionalProperties: false },
);
export type PredictResult = Static<typeof PredictResult>;

const WordScore = Type.Object(
  {
    word: Type.String(),
    inVocabulary: Type.Boolean({ description: "False for a word outside the model's vocabulary." }),
    logProb: Type.Union([Type.Number(), Type.Null()], {
      description: "null for a word outside the vocabulary that is neither in the lexicon nor among the context's recent words (never guessed)",
    }),
    probability: Type.Union([Type.Number(), Type.Null()], { description: "null when logProb is" }),
  },
  { additionalProperties: false },
);
export type WordScore = Static<typeof WordScore>;

export const ScoreResult = Type.Object({ scores: Type.Array(WordScore), model: ModelRef }, { additionalProperties: false });
export type ScoreResult = Static<typeof ScoreResult>;


export const ModelInfo = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    state: Type.Union(
      [Type.Literal("loading"), Type.Literal("ready"), Type.Literal("draining"), Type.Literal("unavailable")],
      {
        description:
          "loading: being loaded and checked, not answering yet; ready: answering; draining: replaced, finishing the requests and typing sessions that started on it, then unloaded; unavailable: its load failed (reason), requests naming it get 503.",
      },
    ),
    default: Type.Boolean({ description: "Whether requests that name no model get this one (the default model's serving version)." }),
    serving: Type.Boolean({ description: "Whether requests naming the model without a version get this version." }),
    reason: Type.Union([Type.String(), Type.Null()], { description: "Why the last load of this version failed (it keeps serving the files it had, if any); null otherwise." }),
    memoryMb: Type.Optional(
      Type.Object(
        {
          estimate: Type.Number({ description: "What the load was counted for against MODEL_MEMORY_MB." }),
          measured: Type.Union([Type.Number(), Type.Null()], { description: "The process's RSS growth over the load, when it was measured." }),
        },
        { additionalProperties: false },
      ),
    ),
    loadSeconds: Type.Optional(Type.Number({ description: "How long the load took: bundle checks, runner workers, golden parity run and warm-up." })),
    vocabularySize: Type.Optional(Type.Integer()),
    layout: Type.Optional(Type.String()),
    clusters: Type.Optional(Type.Integer()),
    executionProviders: Type.Optional(
      Type.Object(
        {
          encoderHead: Type.String(),
          tails: Type.String(),
          outputLayer: Type.Optional(Type.String({ description: "The output layer graph's provider; present when outputLayer is device." })),
        },
        { additionalProperties: false },
      ),
    ),
    outputLayer: Type.Optional(
      Type.Union([Type.Literal("lazy"), Type.Literal("device")], {
        description:
          "How the output layer runs (OUTPUT_LAYER): lazy, the head then only the tail clusters a top-k needs; device, the whole output layer and top-k in one graph call per batch. Both give the same predictions.",
      }),
    ),
    training: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "The training record of the bundle's manifest." })),
  },
  { additionalProperties: false },
);
export type ModelInfo = Static<typeof ModelInfo>;
export type ModelState = ModelInfo["state"];

export const ModelChange = Type.Object(
  {
    name: Type.String(),
    version: Type.String({ description: "Empty when the repository has no such version, or its manifest cannot be read." }),
    action: Type.Union([Type.Literal("loaded"), Type.Literal("reloaded"), Type.Literal("unloaded"), Type.Literal("failed"), Type.Literal("unchanged")], {
      description:
        "loaded: a new version now answers; reloaded: changed files of a version now answer (requests in flight finish on the old ones); unloaded: no longer served (drained, then its threads ended); failed: see reason (whatever served before still does); unchanged: already loaded as the repository has it.",
    }),
    reason: Type.Optional(Type.String()),
    seconds: Type.Optional(Type.Number({ description: "The load's time." })),
  },
  { additionalProperties: false },
);
export type ModelChange = Static<typeof ModelChange>;
