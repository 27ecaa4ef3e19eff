import t from "tap";

import { Lru } from "../src/util/lru.js";

t.test("evicts the least recently used entry; get refreshes, peek does not", async (t) => {
  const lru = new Lru<string, number>(2);
  lru.set("a", 1);
  lru.set("b", 2);
  t.equal(lru.get("a"), 1); // a is now the most recent
  lru.set("c", 3); // evicts b
  t.equal(lru.peek("b"), undefined);
  t.equal(lru.peek("a"), 1); // does not refresh a
  lru.set("d", 4); // evicts a
  t.equal(lru.get("a"), undefined);
  t.same([lru.get("c"), lru.get("d"), lru.size], [3, 4, 2]);
  lru.set("c", 30); // replaces, no growth
  t.same([lru.get("c"), lru.size], [30, 2]);
});

t.test("capacity 0 keeps nothing; a bad capacity throws", async (t) => {
  const lru = new Lru<string, number>(0);
  lru.set("a", 1);
  t.same([lru.get("a"), lru.size], [undefined, 0]);
  t.throws(() => new Lru(-1), RangeError);
  t.throws(() => new Lru(1.5), RangeError);
});
