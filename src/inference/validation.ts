/**
 * The one request check (docs/DESIGN.md, "Request flow"): api-schema.ts's schemas
 * compiled once by ajv and run by both transports, REST as fastify's
 * validator compiler (bodies and headers), gRPC in its handlers. A failure is
 * an INVALID_ARGUMENT ServiceError whose message names the field, its whole
 * contract and the value received, written from the field's schema (not
 * from the keyword that failed), so a bad value gets the same message
 * whichever bound it breaks and whichever transport it came by:
 *
 *   k: must be an integer in [1, 50], got 51
 *   words[1]: must be a string of at most 64 characters, got 65 characters
 *
 * Defaults from the schemas are filled in (k = 3); nothing is coerced and
 * unknown properties are refused.
 */
import { Ajv, type AnySchema, type ErrorObject } from "ajv";
import { invalidArgument, type ServiceError } from "../errors.js";
import { PredictRequest, ScoreRequest } from "./api-schema.js";

/** A JSON Schema as ajv reads it. */
type Schema = Record<string, unknown>;

const ajv = new Ajv({
  coerceTypes: false,
  useDefaults: true,
  removeAdditional: false,
  allErrors: false,
  // parentSchema and data on each error: the message is written from them.
  verbose: true,
  // OpenAPI-only keywords (examples, description) are annotations.
  strict: false,
});

/** Checks a value (filling defaults in); returns the first violation, or null. */
export type Check = (value: unknown) => ServiceError | null;

/** Compiles a schema into a Check; `root` names the value itself in messages ("body", "headers"). */
export function compileCheck(schema: object, root = "body"): Check {
  const validate = ajv.compile(schema as AnySchema);
  return (value) => (validate(value) ? null : describe(validate.errors![0]!, root));
}

const predictCheck = compileCheck(PredictRequest);
const scoreCheck = compileCheck(ScoreRequest);

/** Throws INVALID_ARGUMENT unless `req` is a valid predict request; fills k's default. */
export function validatePredict(req: unknown): PredictRequest {
  const err = predictCheck(req);
  if (err) throw err;
  return req as PredictRequest;
}

/** Throws INVALID_ARGUMENT unless `req` is a valid score request. */
export function validateScore(req: unknown): ScoreRequest {
  const err = scoreCheck(req);
  if (err) throw err;
  return req as ScoreRequest;
}

// ---------------------------------------------------------------------------
// Messages

/** "/words/3" -> "words[3]"; "" -> root. */
function fieldOf(instancePath: string, root: string): string {
  let out = "";
  for (const p of instancePath.split("/").slice(1)) {
    out += /^\d+$/.test(p) ? `[${p}]` : out === "" ? p : `.${p}`;
  }
  return out === "" ? root : out;
}

function describe(e: ErrorObject, root: string): ServiceError {
  const at = fieldOf(e.instancePath, root);
  const child = (name: unknown) => (at === root ? String(name) : `${at}.${String(name)}`);
  if (e.keyword === "required") return invalidArgument(child(e.params.missingProperty), "is required");
  if (e.keyword === "additionalProperties") return invalidArgument(child(e.params.additionalProperty), "unknown property");
  const schema = (e.parentSchema ?? {}) as Schema;
  return invalidArgument(at, `must be ${contract(schema)}, got ${received(e.data, e.keyword)}`);
}

/** What a schema asks for, in words: "an integer in [1, 50]", "a string of at most 64 characters". */
function contract(s: Schema): string {
  const n = (k: string) => (typeof s[k] === "number" ? (s[k] as number) : undefined);
  const range = (lo: number | undefined, hi: number | undefined, unit: string) =>
    lo !== undefined && hi !== undefined ? `${lo} to ${hi} ${unit}` : hi !== undefined ? `at most ${hi} ${unit}` : lo !== undefined ? `at least ${lo} ${unit}` : "";
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  switch (s.type) {
    case "integer":
    case "number": {
      const what = s.type === "integer" ? "an integer" : "a number";
      const lo = n("minimum");
      const hi = n("maximum");
      return lo !== undefined && hi !== undefined ? `${what} in [${lo}, ${hi}]` : lo !== undefined ? `${what} >= ${lo}` : hi !== undefined ? `${what} <= ${hi}` : what;
    }
    case "string": {
      const length = range(n("minLength"), n("maxLength"), "characters");
      const pattern = typeof s.pattern === "string" ? `matching ${s.pattern}` : "";
      return ["a string", length && `of ${length}`, pattern].filter(Boolean).join(" ");
    }
    case "array": {
      const items = s.items as Schema | undefined;
      const of = typeof items?.type === "string" ? `${items.type}s` : "items";
      const count = range(n("minItems"), n("maxItems"), of);
      return count ? `an array of ${count}` : `an array of ${of}`;
    }
    case "object":
      return "an object";
    case "boolean":
      return "a boolean";
    default:
      return "valid";
  }
}

/** The value received, briefly: a length for a string or array that broke a length bound, else the value or its kind. */
function received(v: unknown, keyword: string): string {
  if (typeof v === "string") {
    if (keyword === "maxLength" || keyword === "minLength") return `${[...v].length} characters`;
    const chars = [...v];
    return JSON.stringify(chars.length > 20 ? `${chars.slice(0, 20).join("")}…` : v);
  }
  if (Array.isArray(v)) return keyword === "maxItems" || keyword === "minItems" ? `${v.length} items` : "an array";
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (typeof v === "object") return "an object";
  return String(v);
}

/** Request fields by name (both requests), for fieldForLog. */
const KNOWN_FIELDS = new Set([...Object.keys(PredictRequest.properties), ...Object.keys(ScoreRequest.properties), "body", "headers"]);

/**
 * A rejected request's field as the logs may show it: a field the API
 * defines (`words[3]`), or "(unknown)" for a property the client named
 * itself, whose name is the client's text. Messages are never logged: they
 * may quote the input.
 */
export function fieldForLog(field: string | undefined): string | undefined {
  if (field === undefined) return undefined;
  return KNOWN_FIELDS.has(/^[^.[]*/.exec(field)![0]) ? field : "(unknown)";
}
