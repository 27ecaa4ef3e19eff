import t from "tap";

import { createLogger } from "../src/logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(JSON.parse(s)) } };
}

t.test("JSON lines at the configured level", async (t) => {
  const { lines, stream } = capture();
  const log = createLogger({ logLevel: "warn" }, stream);
  log.info("hidden");
  log.warn({ port: 8080 }, "shown");
  t.equal(lines.length, 1, "info is below warn");
  t.equal(lines[0]!.msg, "shown");
  t.equal(lines[0]!.port, 8080);
  t.equal(lines[0]!.level, 40);
  t.equal(lines[0]!.name, "nextword");
  t.match(lines[0]!.time, /^\d{4}-\d\d-\d\dT/);
});

t.test("silent logs nothing", async (t) => {
  const { lines, stream } = capture();
  createLogger({ logLevel: "silent" }, stream).fatal("no");
  t.equal(lines.length, 0);
});

t.test("users' typed text is redacted", async (t) => {
  const { lines, stream } = capture();
  const log = createLogger({ logLevel: "info" }, stream);
  log.info({ context: "my secret", prefix: "pa", body: { words: ["x"], k: 3 } }, "req");
  const line = JSON.stringify(lines[0]);
  t.notMatch(line, /my secret/);
  t.equal(lines[0]!.prefix, "[redacted]");
  t.same(lines[0]!.body, { words: "[redacted]", k: 3 });
});
