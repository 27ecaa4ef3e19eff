import t from "tap";

import { LazyAbort } from "../src/util/lazy-abort.js";

t.test("a signal asked for before the abort fires with its reason", async (t) => {
  const lazy = new LazyAbort();
  const signal = lazy.signal;
  t.equal(lazy.signal, signal, "one signal");
  let fired: unknown = null;
  signal.addEventListener("abort", () => (fired = signal.reason));
  lazy.abort("gone");
  t.equal(fired, "gone");
  lazy.abort("again");
  t.equal(signal.reason, "gone", "the first reason stays");
});

t.test("a signal asked for after the abort starts aborted", async (t) => {
  const lazy = new LazyAbort();
  lazy.abort("gone");
  t.equal(lazy.signal.aborted, true);
  t.equal(lazy.signal.reason, "gone");
});
