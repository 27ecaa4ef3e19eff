import t from "tap";

import { Cancellation } from "../src/util/cancellation.js";

t.test("abort runs each listener once, on the first abort; removed listeners do not run", async (t) => {
  const c = new Cancellation();
  const calls: string[] = [];
  const a = () => calls.push("a");
  const b = () => calls.push("b");
  c.addEventListener("abort", a);
  c.addEventListener("abort", b);
  c.removeEventListener("abort", a);
  t.equal(c.aborted, false);
  c.abort();
  c.abort();
  t.same(calls, ["b"]);
  t.equal(c.aborted, true);
  c.addEventListener("abort", a);
  t.same(calls, ["b"], "a listener added after the abort never runs (callers check `aborted` first)");
});
