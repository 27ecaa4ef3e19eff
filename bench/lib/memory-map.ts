/**
 * A process's resident memory by kind of mapping, from /proc/<pid>/smaps,
 * to tell which allocator holds what a soak's RSS gained:
 * - brk: glibc's main arena (`[heap]`, the main thread's malloc);
 * - arenas: glibc's per-thread arenas (anonymous mappings inside one
 *   64 MB-aligned, 64 MB reservation: worker and ORT threads' malloc);
 * - anon: every other anonymous mapping (V8's heap pages and large objects,
 *   mmap'd malloc chunks, thread stacks);
 * - file: mapped files (code, shared libraries).
 * Linux only; null elsewhere.
 */
import { existsSync, readFileSync } from "node:fs";

export interface MemoryMap {
  brk: number;
  arenas: number;
  anon: number;
  file: number;
}

/** glibc's HEAP_MAX_SIZE on 64-bit: each thread arena reserves this much, aligned to it. */
const ARENA = 64 * 2 ** 20;

/** Resident MB per kind of mapping, or null without /proc. */
export function memoryMap(pid: number): MemoryMap | null {
  const file = `/proc/${pid}/smaps`;
  if (!existsSync(file)) return null;
  const kb: MemoryMap = { brk: 0, arenas: 0, anon: 0, file: 0 };
  let kind: keyof MemoryMap = "anon";
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1]!, 16);
      const end = parseInt(head[2]!, 16);
      const name = head[3]!;
      if (name === "[heap]") kind = "brk";
      else if (name.startsWith("/")) kind = "file";
      // A thread arena's mappings never cross its 64 MB-aligned reservation.
      else if (name === "" && Math.floor(start / ARENA) === Math.floor((end - 1) / ARENA) && end - start <= ARENA && start % ARENA === 0) kind = "arenas";
      else kind = "anon";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb[kind] += Number(rss[1]);
  }
  return { brk: kb.brk / 1024, arenas: kb.arenas / 1024, anon: kb.anon / 1024, file: kb.file / 1024 };
}
