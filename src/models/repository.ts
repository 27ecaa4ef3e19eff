/**
 * The model repository on disk (MODEL_REPOSITORY): every folder that holds a
 * bundle's manifest.json, directly under the repository
 * (`models/lstm512-keyboard-int8/`) or one level deeper (Triton's
 * `<name>/<version>/`). A bundle's name and version are its manifest's, so
 * folder names are free. A folder counts once its manifest.json is in
 * place: copy the other files first and the manifest last (or rename the
 * folder in), and a half-copied bundle is never seen. Manifests of other
 * formats are skipped; one that cannot be read is a problem, reported.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

import { compareVersions, type ModelPolicy } from "./model-spec.js";

export interface RepositoryEntry {
  name: string;
  version: string;
  dir: string;
  /** sha256 of manifest.json, which lists every other file's sha256: new files under the same version change it. */
  fingerprint: string;
  /** The bundle's files' bytes on disk (the memory estimate starts from them). */
  bytes: number;
}

/** A folder whose manifest.json could not be read as a bundle's; `name` when the folder's path tells it. */
export interface RepositoryProblem {
  dir: string;
  name: string;
  reason: string;
}

export interface RepositoryScan {
  entries: RepositoryEntry[];
  problems: RepositoryProblem[];
}

const BUNDLE_FORMAT = /^nextword-bundle\/\d+$/;

/** Reads one bundle folder's manifest: an entry, a problem, or null (no manifest yet, or another format). */
export async function readEntry(dir: string, fallbackName = path.basename(dir)): Promise<RepositoryEntry | RepositoryProblem | null> {
  let text: string;
  try {
    text = await readFile(path.join(dir, "manifest.json"), "utf8");
  } catch {
    return null;
  }
  let manifest: { format?: unknown; name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(text) as typeof manifest;
  } catch (err) {
    return { dir, name: fallbackName, reason: `${path.join(dir, "manifest.json")}: not JSON (${(err as Error).message})` };
  }
  if (typeof manifest.format !== "string" || !BUNDLE_FORMAT.test(manifest.format)) return null;
  const { name, version } = manifest;
  if (typeof name !== "string" || typeof version !== "string" || name === "" || version === "") {
    return { dir, name: fallbackName, reason: `${path.join(dir, "manifest.json")}: name and version must be non-empty strings` };
  }
  let bytes = 0;
  for (const file of await readdir(dir, { withFileTypes: true })) {
    if (file.isFile()) bytes += (await stat(path.join(dir, file.name))).size;
  }
  return { name, version, dir, fingerprint: createHash("sha256").update(text).digest("hex"), bytes };
}

/** Every bundle under `root` (depth 1 and 2); an unreadable root is an error (the caller reports it). */
export async function scanRepository(root: string): Promise<RepositoryScan> {
  const scan: RepositoryScan = { entries: [], problems: [] };
  const add = (found: RepositoryEntry | RepositoryProblem | null) => {
    if (found === null) return;
    if ("reason" in found) scan.problems.push(found);
    else scan.entries.push(found);
  };
  for (const top of await readdir(root, { withFileTypes: true })) {
    if (!top.isDirectory() || top.name.startsWith(".")) continue;
    const dir = path.join(root, top.name);
    const found = await readEntry(dir);
    if (found !== null) {
      add(found);
      continue;
    }
    for (const sub of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (sub.isDirectory() && !sub.name.startsWith(".")) add(await readEntry(path.join(dir, sub.name), top.name));
    }
  }
  return scan;
}

/**
 * The bundles a policy serves, per name in policy order: MODELS' entries
 * (a name alone: its highest version), or every name's highest version.
 * Also the names it asks for that the repository lacks (or lacks the
 * version of), so they can be reported.
 */
export function selectEntries(entries: readonly RepositoryEntry[], policy: ModelPolicy): { selected: RepositoryEntry[]; missing: string[] } {
  const byName = new Map<string, RepositoryEntry[]>();
  for (const e of entries) byName.set(e.name, [...(byName.get(e.name) ?? []), e]);
  const latest = (name: string) => byName.get(name)?.reduce((a, b) => (compareVersions(a.version, b.version) >= 0 ? a : b)) ?? null;
  const selected: RepositoryEntry[] = [];
  const missing: string[] = [];
  const add = (e: RepositoryEntry | null | undefined, spec: string) => {
    if (!e) missing.push(spec);
    else if (!selected.some((s) => s.name === e.name && s.version === e.version)) selected.push(e);
  };
  if (policy.all) for (const name of [...byName.keys()].sort()) add(latest(name), name);
  else {
    for (const { name, version } of policy.entries) {
      add(version === null ? latest(name) : byName.get(name)?.find((e) => e.version === version), version === null ? name : `${name}@${version}`);
    }
  }
  return { selected, missing };
}
