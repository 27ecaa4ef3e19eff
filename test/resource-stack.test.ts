import t from "tap";

import { ResourceStack } from "../src/util/resource-stack.js";

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

t.test("closes in the reverse of the push order, each after the one before it finished", async (t) => {
  const stack = new ResourceStack();
  const events: string[] = [];
  for (const name of ["a", "b", "c"]) {
    stack.push(name, async () => {
      events.push(`${name} begins`);
      await tick();
      events.push(`${name} ends`);
    });
  }
  t.same(await stack.close(), []);
  t.same(events, ["c begins", "c ends", "b begins", "b ends", "a begins", "a ends"]);
});

t.test("goes on past a close that throws or rejects, and reports each by name", async (t) => {
  const stack = new ResourceStack();
  const closed: string[] = [];
  const thrown = new Error("sync failure");
  const rejected = new Error("async failure");
  stack.push("first", () => void closed.push("first"));
  stack.push("throws", () => {
    throw thrown;
  });
  stack.push("middle", () => void closed.push("middle"));
  stack.push("rejects", async () => {
    await tick();
    throw rejected;
  });
  const failures = await stack.close();
  t.same(closed, ["middle", "first"], "the others still closed");
  t.same(failures.map((f) => f.name), ["rejects", "throws"], "in the order they were closed");
  t.equal(failures[0]!.error, rejected);
  t.equal(failures[1]!.error, thrown);
});

t.test("idempotent: a second close() returns the same result and closes nothing again; no push after close", async (t) => {
  const stack = new ResourceStack();
  let closes = 0;
  stack.push("once", () => void closes++);
  stack.push("fails", () => {
    throw new Error("x");
  });
  const first = stack.close();
  const second = stack.close();
  t.equal(first, second, "the same promise, even while the first is running");
  const failures = await first;
  t.same(await stack.close(), failures);
  t.equal(failures.length, 1);
  t.equal(closes, 1);
  t.throws(() => stack.push("late", () => undefined), /late: started after its resource stack began closing/);
});

t.test("an empty stack closes at once", async (t) => {
  t.same(await new ResourceStack().close(), []);
});
