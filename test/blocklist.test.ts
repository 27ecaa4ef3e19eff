/** The offensive-word list: the shipped one, and an operator's file that adds and removes words. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";

import { readBlocklist } from "../src/inference/blocklist.js";

t.test("the shipped list: LDNOOBW's English words, lower case", async (t) => {
  const words = readBlocklist(null);
  t.ok(words.length > 300, `${words.length} entries`);
  for (const w of ["fuck", "fucking", "bitch", "nigger"]) t.ok(words.includes(w), w);
  t.notOk(words.includes("the"));
  t.ok(words.every((w) => w === w.toLowerCase()));
});

t.test("BLOCKLIST_FILE adds words, -word allows a listed one again, # comments", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "blocklist-"));
  const file = path.join(dir, "blocklist.txt");
  writeFileSync(file, "# our additions\nZorvath\n  grumble  # trailing comment\n-sex\n- bitch\n\n");
  const words = readBlocklist(file);
  const shipped = readBlocklist(null);
  t.ok(words.includes("zorvath") && words.includes("grumble"), "added, lower-cased and trimmed");
  t.ok(shipped.includes("sex") && !words.includes("sex"), "-sex allows it again");
  t.notOk(words.includes("bitch"), "- bitch (space after the dash) too");
  t.equal(words.length, shipped.length + 2 - 2);
  t.throws(() => readBlocklist(path.join(dir, "missing.txt")), { message: `BLOCKLIST_FILE ${path.join(dir, "missing.txt")}: cannot be read (ENOENT)` });
});
