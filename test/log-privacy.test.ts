/**
 * Typed text never reaches the logs, at any level: predict, score, typing
 * sessions, invalid requests (whose messages to the client may quote the
 * input) and malformed bodies, over both transports at trace level, then
 * no log line contains any of the contexts, prefixes or words sent.
 */
import t from "tap";

import { SessionClient, startGrpc, unary } from "./helpers/grpc.js";
import { startHttp } from "./helpers/http-app.js";

// Distinctive words: their appearance anywhere in a log line is a leak.
const SECRET = ["zanzibarquux", "plumtreevex", "quokkamire", "grapplewidget"];

t.test("no log line at trace level holds a context, a prefix or a word that was sent", async (t) => {
  const http = await startHttp({ LOG_LEVEL: "trace" });
  t.teardown(() => http.close());
  const grpc = await startGrpc({ LOG_LEVEL: "trace" });
  t.teardown(() => grpc.close());
  const [a, b, c, d] = SECRET;
  const context = `my password is ${a} and my friend ${b}`;

  const post = (url: string, payload: unknown, contentType = "application/json") =>
    http.app.inject({ method: "POST", url, payload: typeof payload === "string" ? payload : JSON.stringify(payload), headers: { "content-type": contentType } });
  const sent = [
    await post("/v1/predict", { context, prefix: c!.slice(0, 4), k: 3 }),
    await post("/v1/score", { context, words: [d!] }),
    await post("/v1/predict", { context, prefix: c, k: 51 }), // k out of range
    await post("/v1/predict", { context: 42, prefix: c }), // wrong type
    await post("/v1/predict", { context, prefix: `${c}${"x".repeat(80)}` }), // prefix too long
    await post("/v1/predict", { context, [d!]: 1 }), // unknown property named with a secret
    await post("/v1/predict", `{"context": "${a}", "prefix": ${b}}`), // malformed JSON
    await post("/v1/predict", `context=${a}`, "text/plain"), // a text body
  ];
  t.same(sent.map((r) => r.statusCode), [200, 200, 400, 400, 400, 400, 400, 400]);
  t.match(sent[2]!.body, /k: must be an integer in \[1, 50\], got 51/, "the client still learns what was wrong");

  await unary(grpc.client, "Predict", { context, prefix: c!.slice(0, 3), k: 3 });
  await unary(grpc.client, "Score", { context, words: [d] });
  await unary(grpc.client, "Predict", { context, prefix: c, k: 99 }).catch(() => undefined);
  const s = new SessionClient(grpc.client.Session());
  await s.send({ set_context: context });
  await s.send({ set_prefix: c!.slice(0, 2) });
  await s.send({ commit: d });
  await s.send({ set_prefix: `${b}${"y".repeat(80)}` }); // too long: the session ends INVALID_ARGUMENT
  await s.ended;
  t.ok(s.error, "the invalid event ended the session");

  const lines = [...http.logs.lines, ...grpc.logs.lines].map((l) => JSON.stringify(l));
  t.ok(lines.length > 20, `${lines.length} log lines written`);
  t.ok(lines.some((l) => /request rejected|grpc call rejected/.test(l)), "rejections were logged");
  for (const secret of SECRET) {
    const leaks = lines.filter((l) => l.toLowerCase().includes(secret));
    t.same(leaks, [], `"${secret}" appears in no log line`);
  }
});
