/**
 * Potentially offensive words, never suggested while a request blocks them (the
 * default; docs/DESIGN.md, "The adaptive softmax, as served"). The list is the
 * English one of LDNOOBW, the "List of Dirty, Naughty, Obscene, and Otherwise
 * Bad Words" (npm `naughty-words`, CC-BY-4.0: see README), changed by an
 * operator's file (BLOCKLIST_FILE): one entry per line, `-word` allows a listed
 * word again, `#` starts a comment. Phrases (entries of several tokens) cannot
 * be one suggestion; the service keeps the entries that are one token.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** The shipped list with the operator's file applied; entries as written (the service normalizes them). Throws naming the file. */
export function readBlocklist(file: string | null): string[] {
  const words = new Set(shippedList());
  if (file === null) return [...words];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`BLOCKLIST_FILE ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  text.split("\n").forEach((raw) => {
    const line = raw.replace(/#.*/, "").trim().toLowerCase();
    if (line.startsWith("-")) words.delete(line.slice(1).trim());
    else if (line !== "") words.add(line);
  });
  return [...words];
}

function shippedList(): string[] {
  const path = createRequire(import.meta.url).resolve("naughty-words/en.json");
  const list: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (!Array.isArray(list) || !list.every((w) => typeof w === "string")) throw new Error(`${path}: expected a JSON array of strings`);
  return list.map((w: string) => w.toLowerCase());
}
