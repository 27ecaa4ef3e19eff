/**
 * The manifest's tokenizer ("word-regex-v1"), step for step what
 * training/tokenizer.py does: NFKD, drop U+0300..U+036F, map the listed
 * apostrophes to ', lowercase, then every match of `pattern`, left to right.
 * Golden token-id vectors in each bundle keep the two implementations equal.
 */
import { compilePythonMatch, compilePythonPattern } from "./python-regex.js";

/** The `tokenizer` object of a bundle manifest. */
export interface TokenizerSpec {
  type: string;
  normalization: string[];
  apostrophes: string;
  pattern: string;
  flags: string;
  bos: string;
  unk: string;
  specialTokens: string[];
  contextStartsWithBos: boolean;
  suggestPattern: string;
}

export const TOKENIZER_TYPE = "word-regex-v1";

export class TokenizerSpecError extends Error {
  override name = "TokenizerSpecError";
}

/** The normalization steps this implementation performs, as the manifest names them. */
function expectedNormalization(apostrophes: string): string[] {
  return ["NFKD", "strip U+0300-U+036F", `map [${apostrophes}] to '`, "lowercase"];
}

function escapeForClass(chars: string): string {
  return Array.from(chars, (c) => "\\u{" + c.codePointAt(0)!.toString(16) + "}").join("");
}

export class Tokenizer {
  readonly bosId: number;
  readonly unkId: number;
  readonly contextStartsWithBos: boolean;
  private readonly ids: ReadonlyMap<string, number>;
  private readonly specials: ReadonlySet<string>;
  private readonly token: RegExp;
  /** `token`, case-insensitive. */
  private readonly surface: RegExp;
  private readonly suggest: RegExp;
  private readonly apostrophe: RegExp | null;

  private constructor(readonly spec: TokenizerSpec, readonly vocab: readonly string[]) {
    if (spec.type !== TOKENIZER_TYPE) {
      throw new TokenizerSpecError(`tokenizer.type is "${spec.type}", only "${TOKENIZER_TYPE}" is implemented`);
    }
    const expected = expectedNormalization(spec.apostrophes);
    if (JSON.stringify(spec.normalization) !== JSON.stringify(expected)) {
      throw new TokenizerSpecError(
        `tokenizer.normalization is ${JSON.stringify(spec.normalization)}, only ${JSON.stringify(expected)} is implemented`,
      );
    }
    if (spec.flags !== "g") {
      throw new TokenizerSpecError(`tokenizer.flags is "${spec.flags}", only "g" (match globally) is implemented`);
    }
    this.token = compilePythonPattern(spec.pattern);
    this.surface = new RegExp(this.token.source, `${this.token.flags}i`);
    this.suggest = compilePythonMatch(spec.suggestPattern);
    this.apostrophe = spec.apostrophes.length > 0 ? new RegExp(`[${escapeForClass(spec.apostrophes)}]`, "gu") : null;

    const ids = new Map<string, number>();
    vocab.forEach((word, id) => {
      const seen = ids.get(word);
      if (seen !== undefined) throw new TokenizerSpecError(`vocabulary has "${word}" twice (ids ${seen} and ${id})`);
      ids.set(word, id);
    });
    this.ids = ids;
    for (const special of [spec.bos, spec.unk, ...spec.specialTokens]) {
      if (!ids.has(special)) throw new TokenizerSpecError(`special token "${special}" is not in the vocabulary`);
    }
    this.bosId = ids.get(spec.bos)!;
    this.unkId = ids.get(spec.unk)!;
    this.specials = new Set(spec.specialTokens);
    this.contextStartsWithBos = spec.contextStartsWithBos;
  }

  /** Validates the spec against what this implementation does; throws TokenizerSpecError or PatternError. */
  static create(spec: TokenizerSpec, vocab: readonly string[]): Tokenizer {
    return new Tokenizer(spec, vocab);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  normalize(text: string): string {
    return this.normalizeKeepingCase(text).toLowerCase();
  }

  /** normalize() without the lowercasing: the text as written, for casing suggestions. */
  normalizeKeepingCase(text: string): string {
    const s = text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
    return this.apostrophe ? s.replace(this.apostrophe, "'") : s;
  }

  /** The tokens of a normalizeKeepingCase() text as written, with their positions (each one's lowercase is a token of tokenize()). */
  surfaceTokens(normalized: string): IterableIterator<RegExpMatchArray> {
    return normalized.matchAll(this.surface);
  }

  tokenize(text: string): string[] {
    return this.normalize(text).match(this.token) ?? [];
  }

  /** Vocabulary id of a token, or the <unk> id. */
  idOf(token: string): number {
    return this.ids.get(token) ?? this.unkId;
  }

  encode(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.idOf(t));
  }

  /** Ids the encoder consumes for a context: <bos> first when the spec says so (training did). */
  encodeContext(text: string): number[] {
    return this.contextIds(this.tokenize(text));
  }

  /** encodeContext of an already tokenized context. */
  contextIds(tokens: readonly string[]): number[] {
    const ids = this.encode(tokens);
    return this.contextStartsWithBos ? [this.bosId, ...ids] : ids;
  }

  /** Whether a vocabulary entry may be offered as a suggestion: matches suggestPattern and is not special. */
  isSuggestable(word: string): boolean {
    return !this.specials.has(word) && this.suggest.test(word);
  }

  /** mask[id] = 1 when vocabulary entry `id` is suggestable. */
  suggestableMask(): Uint8Array {
    const mask = new Uint8Array(this.vocab.length);
    this.vocab.forEach((w, id) => {
      mask[id] = this.isSuggestable(w) ? 1 : 0;
    });
    return mask;
  }
}
