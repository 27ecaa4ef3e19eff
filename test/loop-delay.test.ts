/**
 * The event-loop delay sampler that admission and the inference-loop gauge
 * read: a stall is seen whenever it begins (monitorEventLoopDelay missed one
 * that began just after its reset), and counted in one window only.
 */
import t from "tap";

import { LoadMonitor } from "../src/admission/admission.js";
import { LoopDelaySampler } from "../src/util/loop-delay.js";

const stall = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("a stall that begins right after a new window is seen in it", async (t) => {
  const sampler = new LoopDelaySampler(10);
  t.teardown(() => sampler.stop());
  await sleep(50);
  sampler.take();
  stall(150);
  await sleep(30);
  const { maxMs } = sampler.take();
  t.ok(maxMs >= 135 && maxMs < 400, `max ${maxMs.toFixed(1)} ms for a 150 ms stall`);
});

t.test("a stall its timer has not yet reported is read, and counted in one window only", async (t) => {
  const sampler = new LoopDelaySampler(10);
  t.teardown(() => sampler.stop());
  await sleep(50);
  sampler.take();
  stall(150);
  const during = sampler.take().maxMs; // no tick has run since the stall began
  t.ok(during >= 135, `read before the timer reports it: ${during.toFixed(1)} ms`);
  await sleep(40);
  const after = sampler.take().maxMs;
  t.ok(after < during - 100, `the next window does not count it again (${after.toFixed(1)} ms)`);
});

t.test("an idle loop's delay is small", async (t) => {
  const sampler = new LoopDelaySampler(10);
  t.teardown(() => sampler.stop());
  await sleep(200);
  const { p50Ms, p99Ms, maxMs } = sampler.take();
  t.ok(p50Ms <= p99Ms && p99Ms <= maxMs, "p50 <= p99 <= max");
  t.ok(p50Ms < 20, `p50 ${p50Ms.toFixed(2)} ms`);
});

t.test("admission's monitor sees every stall, whatever its phase against the window", async (t) => {
  const monitor = new LoadMonitor(50, 10);
  t.teardown(() => monitor.stop());
  const seen: number[] = [];
  for (let i = 0; i < 10; i++) {
    await sleep(5 * i);
    stall(100); // longer than a window: the window's timer is due once it ends
    await sleep(1);
    seen.push(monitor.eventLoopDelayMs());
    await sleep(120); // quiet windows before the next stall
  }
  t.ok(
    seen.every((ms) => ms >= 85),
    `each 100 ms stall read as ${seen.map((ms) => ms.toFixed(0)).join(", ")} ms`,
  );
});
