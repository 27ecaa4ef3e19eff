/**
 * A property-based fuzz of the REST API, its requests generated from the
 * service's own OpenAPI document (/openapi.json): valid bodies, values at
 * and just past every bound, wrong types, unknown and missing fields,
 * malformed JSON, wrong content types, invalid UTF-8 and deep nesting,
 * 10,000 requests against the real service on models/tiny (inject()).
 *
 * Holds for every request: no 5xx; a 2xx only for a valid body; every 4xx
 * has the error shape and names its field in `field` and in its message;
 * and afterwards the process still answers /healthz and a valid predict.
 */
import fc from "fast-check";
import t from "tap";

import { startHttp } from "./helpers/http-app.js";

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
};

const RUNS = 10_000;
const TEXT = fc.constantFrom(..."the quick brown fox jumps over a lazy dog ,.'!?ÉéßŁ漢字😀\n\t".split(""));

/** Fields whose valid values are what the server holds, not what the schema allows: the models it serves (models/tiny). */
const SERVED: Record<string, readonly string[]> = { model: ["tiny", "tiny@1.0.0"] };

/** Values the schema accepts (long strings and arrays are kept short here: the bounds get their own cases). */
function valid(s: Schema): fc.Arbitrary<unknown> {
  switch (s.type) {
    case "string":
      return fc.string({ unit: TEXT, minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40) });
    case "integer":
      return fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1000 });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(valid(s.items ?? {}), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 5, 5) });
    case "object": {
      const props = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, SERVED[k] ? fc.constantFrom(...SERVED[k]) : valid(v)]));
      return fc.record(props, { requiredKeys: s.required ?? [] });
    }
    default:
      return fc.jsonValue();
  }
}

/** Values at a bound (accepted) and just past it (refused), with which they are. */
function bounds(s: Schema): Array<{ value: unknown; ok: boolean }> {
  const out: Array<{ value: unknown; ok: boolean }> = [];
  const str = (n: number) => "é".repeat(n); // one code point, two UTF-8 bytes
  if (s.type === "string" && s.pattern !== undefined) {
    // Outside the pattern, too long, or of its form but not served (404): all refused.
    out.push({ value: "é", ok: false }, { value: "no-such-model", ok: false });
    if (s.maxLength !== undefined) out.push({ value: "a".repeat(s.maxLength + 1), ok: false });
    return out;
  }
  if (s.type === "string" && s.maxLength !== undefined) out.push({ value: str(s.maxLength), ok: true }, { value: str(s.maxLength + 1), ok: false });
  if (s.type === "integer") {
    if (s.minimum !== undefined) out.push({ value: s.minimum, ok: true }, { value: s.minimum - 1, ok: false });
    if (s.maximum !== undefined) out.push({ value: s.maximum, ok: true }, { value: s.maximum + 1, ok: false }, { value: s.maximum + 0.5, ok: false });
  }
  if (s.type === "array") {
    const item = s.items?.type === "string" ? "a" : 0;
    if (s.maxItems !== undefined) out.push({ value: Array(s.maxItems).fill(item), ok: true }, { value: Array(s.maxItems + 1).fill(item), ok: false });
    if (s.minItems !== undefined && s.minItems > 0) out.push({ value: [], ok: false });
    for (const b of bounds(s.items ?? {})) out.push({ value: [b.value], ok: b.ok });
  }
  return out;
}

/** A JSON value of another type than the schema's. */
function wrongType(s: Schema): fc.Arbitrary<unknown> {
  return fc.jsonValue().filter((v) => {
    const t = Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
    if (s.type === "integer") return t !== "number" || !Number.isInteger(v);
    if (s.type === "string") return t !== "string";
    if (s.type === "boolean") return t !== "boolean";
    return t !== s.type;
  });
}

interface Case {
  kind: string;
  path: string;
  payload: string | Buffer;
  /** null: no content-type header. */
  contentType: string | null;
  /** true: must be 200; false: must be 4xx; null: either. */
  ok: boolean | null;
}

function cases(path: string, s: Schema): fc.Arbitrary<Case> {
  const props = Object.entries(s.properties ?? {});
  const json = (v: unknown) => JSON.stringify(v);
  const c = (kind: string, payload: string | Buffer, ok: boolean | null, contentType: string | null = "application/json"): Case => ({ kind, path, payload, contentType, ok });
  const base = valid(s) as fc.Arbitrary<Record<string, unknown>>;
  const boundary = fc.constantFrom(...props.flatMap(([k, p]) => bounds(p).map((b) => ({ k, ...b }))));
  return fc.oneof(
    { weight: 4, arbitrary: base.map((b) => c("valid", json(b), true)) },
    { weight: 3, arbitrary: fc.tuple(base, boundary).map(([b, x]) => c(`bound ${x.k}`, json({ ...b, [x.k]: x.value }), null)) },
    { weight: 2, arbitrary: fc.tuple(base, fc.constantFrom(...props)).chain(([b, [k, p]]) => wrongType(p).map((v) => c(`wrong type ${k}`, json({ ...b, [k]: v }), false))) },
    { weight: 1, arbitrary: fc.tuple(base, fc.string({ minLength: 1, maxLength: 8 })).filter(([, k]) => !(k in (s.properties ?? {}))).map(([b, k]) => c("unknown field", json({ ...b, [k]: 1 }), false)) },
    { weight: 1, arbitrary: fc.tuple(base, fc.constantFrom(...(s.required ?? []))).map(([b, k]) => c(`missing ${k}`, json(Object.fromEntries(Object.entries(b).filter(([x]) => x !== k))), false)) },
    { weight: 1, arbitrary: fc.jsonValue().filter((v) => typeof v !== "object" || v === null || Array.isArray(v)).map((v) => c("not an object", json(v), false)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((x) => c("malformed JSON", `{"context": ${x}`, null)) },
    {
      weight: 1,
      arbitrary: fc.tuple(base, fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/xml", null)).map(([b, ct]) => c(`content-type ${ct}`, json(b), false, ct)),
    },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bytes) =>
        c("invalid UTF-8", Buffer.concat([Buffer.from('{"context": "'), Buffer.from([0xff, 0xc0, ...bytes]), Buffer.from('"}')]), null),
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 60_000 }).map((d) => c(`nesting ${d}`, `{"context": ${"[".repeat(d)}${"]".repeat(d)}}`, false)) },
  );
}

t.test(`REST fuzz: ${RUNS} requests from the OpenAPI document, no 5xx, every 4xx names its field`, { timeout: 600_000 }, async (t) => {
  const h = await startHttp({ LOG_LEVEL: "silent" });
  t.teardown(() => h.close());
  const doc = (await h.app.inject({ method: "GET", url: "/openapi.json" })).json() as {
    paths: Record<string, { post?: { requestBody?: { content: { "application/json": { schema: Schema } } } } }>;
  };
  // The POST routes that take a body (the admin reload takes none: its token is its input).
  const posts = Object.entries(doc.paths).flatMap(([p, ops]) => (ops.post?.requestBody ? [[p, ops.post.requestBody.content["application/json"].schema] as const] : []));
  t.same(posts.map(([p]) => p).sort(), ["/v1/predict", "/v1/score"], "the document's POST routes with a body");

  const seen: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(fc.oneof(...posts.map(([p, s]) => cases(p, s))), async (c) => {
      const res = await h.app.inject({ method: "POST", url: c.path, payload: c.payload, headers: c.contentType === null ? {} : { "content-type": c.contentType } });
      seen[`${c.path} ${res.statusCode}`] = (seen[`${c.path} ${res.statusCode}`] ?? 0) + 1;
      if (res.statusCode >= 500) throw new Error(`${c.kind}: ${res.statusCode} ${res.body}`);
      if (c.ok === true && res.statusCode !== 200) throw new Error(`${c.kind}: a valid body got ${res.statusCode} ${res.body}`);
      if (res.statusCode === 200) {
        if (c.ok === false) throw new Error(`${c.kind}: an invalid body was accepted`);
        return;
      }
      if (res.statusCode < 400) throw new Error(`${c.kind}: unexpected ${res.statusCode}`);
      const e = (res.json() as { error?: { code?: string; message?: string; field?: string } }).error;
      if (!e?.code || !e.message || !e.field) throw new Error(`${c.kind}: ${res.statusCode} without code, message and field: ${res.body}`);
      const root = e.field.replace(/[.[].*$/, "");
      if (!e.message.startsWith(e.field) && !e.message.startsWith(root)) throw new Error(`${c.kind}: the message does not name ${e.field}: ${e.message}`);
    }),
    { numRuns: RUNS, seed: 20261125 },
  );
  t.pass(`answers: ${JSON.stringify(seen)}`);
  t.ok((seen["/v1/predict 200"] ?? 0) > 1000 && (seen["/v1/score 400"] ?? 0) > 100, "both routes saw accepted and refused requests");
  t.equal((await h.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200, "still alive");
  t.equal((await h.app.inject({ method: "POST", url: "/v1/predict", payload: { context: "after the storm" } })).statusCode, 200, "still serving");
});
