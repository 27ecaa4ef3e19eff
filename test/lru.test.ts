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

t.test("a weight bound: evicts least recently used entries until the total fits; weights grow with addWeight", async (t) => {
  const lru = new Lru<string, string>(100, 10);
  lru.set("a", "A", 4);
  lru.set("b", "B", 4);
  t.equal(lru.weight, 8);
  lru.get("a"); // b is now the oldest
  lru.set("c", "C", 3); // 11 > 10: b goes
  t.same([lru.peek("b"), lru.size, lru.weight], [undefined, 2, 7]);
  lru.addWeight("c", "C", 5); // 12: a (oldest) goes, c stays
  t.same([lru.peek("a"), lru.peek("c"), lru.weight], [undefined, "C", 8]);
  lru.addWeight("c", "other value", 100); // not the value held: ignored
  lru.addWeight("gone", "X", 100);
  t.equal(lru.weight, 8);
  lru.set("c", "C2", 2); // replacing subtracts the old weight
  t.equal(lru.weight, 2);
  lru.set("huge", "H", 11); // over the bound alone: everything goes, itself too
  t.same([lru.size, lru.weight], [0, 0]);
  t.throws(() => new Lru(1, 0), RangeError);
});
