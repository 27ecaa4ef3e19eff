/**
 * A runner worker killed while REST typists keep the service busy (the real
 * service on models/tiny, two workers, CACHE_SIZE=0 so every request needs
 * the workers): the requests it was running fail UNAVAILABLE (503 with
 * Retry-After: retryable), nothing fails otherwise, /readyz stays 200 on the
 * other worker, and the killed one is back within a measured time.
 */
import t from "tap";

import { startHttp } from "./helpers/http-app.js";

const TYPISTS = 32;
const WORDS = "the history of the world is the history of people who wrote things down".split(" ");

t.test("a worker killed under load: only retryable failures, ready throughout, replaced", { timeout: 120_000 }, async (t) => {
  const h = await startHttp({ WORKERS: "2", CACHE_SIZE: "0", LOG_LEVEL: "silent" });
  t.teardown(() => h.close());
  const statuses: Record<number, number> = {};
  const retryAfter = new Set<string | undefined>();
  let stop = false;
  const typist = async (i: number) => {
    for (let n = 0; !stop; n++) {
      const res = await h.app.inject({
        method: "POST",
        url: "/v1/predict",
        payload: { context: `${i} ${WORDS.slice(0, (i + n) % WORDS.length).join(" ")}`, prefix: "t", k: 5 },
      });
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode === 503) retryAfter.add(res.headers["retry-after"] as string | undefined);
    }
  };
  const load = Array.from({ length: TYPISTS }, (_, i) => typist(i));

  await new Promise((r) => setTimeout(r, 500));
  t.equal(h.pool.readyWorkers, 2);
  const killedAt = performance.now();
  await h.pool.crashWorker(0);
  let readyThroughout = true;
  while (h.pool.readyWorkers < 2) {
    if ((await h.app.inject({ method: "GET", url: "/readyz" })).statusCode !== 200) readyThroughout = false;
    await new Promise((r) => setTimeout(r, 5));
    if (performance.now() - killedAt > 30_000) break;
  }
  const replacedMs = performance.now() - killedAt;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(load);

  t.equal(h.pool.readyWorkers, 2, `the worker is back ${Math.round(replacedMs)} ms after it was killed`);
  t.ok(readyThroughout, "/readyz answered 200 all along (the other worker)");
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  t.same(Object.keys(statuses).filter((s) => s !== "200" && s !== "503"), [], `only 200 and 503: ${JSON.stringify(statuses)}`);
  t.ok((statuses[200] ?? 0) > total * 0.9, "nearly all served");
  t.same([...retryAfter].filter((v) => v === undefined), [], "every 503 says when to retry");
  t.equal((await h.app.inject({ method: "POST", url: "/v1/predict", payload: { context: "after the fault" } })).statusCode, 200, "serving after");
});
