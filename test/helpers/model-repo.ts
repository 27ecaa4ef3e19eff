/**
 * Temporary model repositories (MODEL_REPOSITORY) for the lifecycle tests:
 * copies of a committed bundle (models/tiny by default) under new names or
 * versions, edited in the ways a deployment goes wrong. The manifest is
 * always written last, to a temporary name and renamed into place, as an
 * operator must: the repository scan counts a folder once its manifest.json
 * exists, so it never sees a half-copied bundle.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { TINY_DIR } from "./tiny.js";

/** A bundle's manifest.json, loosely typed: tests edit a few fields and write it back. */
export type ManifestJson = Record<string, unknown> & { name: string; version: string; checksums: Record<string, string> };

/** A fresh, empty repository folder, removed at the test's end. */
export async function tempRepository(t: { teardown(fn: () => unknown): void }, prefix = "nextword-models-"): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function readManifest(dir: string): Promise<ManifestJson> {
  return JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as ManifestJson;
}

/** Writes manifest.json atomically (a temporary name in the same folder, then a rename). */
export async function writeManifest(dir: string, manifest: object): Promise<void> {
  const tmp = path.join(dir, `.manifest.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(tmp, path.join(dir, "manifest.json"));
}

/** The environment of a test server on a temporary repository (`MODEL_REPOSITORY`) whose default model is tiny: local ports picked by the OS, one runner worker. */
export function tinyServerEnv(repo: string, logLevel = "info"): Record<string, string> {
  return { MODEL_REPOSITORY: repo, DEFAULT_MODEL: "tiny", HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", WORKERS: "1", THREADS_PER_WORKER: "1", LOG_LEVEL: logLevel };
}

export const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

export interface CopyOptions {
  /** The bundle copied (default models/tiny). */
  from?: string;
  /** The folder under the repository, e.g. "tiny-1.1.0" or "tiny/1.1.0" (default `<name>-<version>`). */
  folder?: string;
  /** The manifest's name (default the source's). */
  name?: string;
  /** The manifest's version (default the source's). */
  version?: string;
  /** Runs on the copied folder before the manifest is written (corrupt a file, delete one, edit golden.json...). */
  files?: (dir: string) => Promise<void>;
  /** Edits the manifest before it is written. */
  manifest?: (m: ManifestJson) => void;
  /** Copy the files and leave the manifest out (a copy still under way). */
  withoutManifest?: boolean;
}

/** Copies a bundle into `repo` as name@version (its manifest last); returns the folder. */
export async function copyBundle(repo: string, options: CopyOptions = {}): Promise<string> {
  const from = options.from ?? TINY_DIR;
  const manifest = await readManifest(from);
  manifest.name = options.name ?? manifest.name;
  manifest.version = options.version ?? manifest.version;
  const dir = path.join(repo, options.folder ?? `${manifest.name}-${manifest.version}`);
  await mkdir(dir, { recursive: true });
  for (const file of await readdir(from, { withFileTypes: true })) {
    if (file.isFile() && file.name !== "manifest.json") await copyFile(path.join(from, file.name), path.join(dir, file.name));
  }
  await options.files?.(dir);
  options.manifest?.(manifest);
  if (!options.withoutManifest) await writeManifest(dir, manifest);
  return dir;
}

/** Overwrites `file` in `dir` with as many junk bytes (its checksum no longer matches; its size does). */
export async function corruptFile(dir: string, file: string): Promise<void> {
  const size = (await readFile(path.join(dir, file))).length;
  await writeFile(path.join(dir, file), Buffer.alloc(size, 0x5a));
}

/**
 * Moves golden.json's first logProb by `delta` and returns the file's new
 * sha256, for the manifest's checksums: the bundle's checks then pass and
 * only the golden parity run can catch it.
 */
export async function skewGolden(dir: string, delta = 0.5): Promise<string> {
  const file = path.join(dir, "golden.json");
  const golden = JSON.parse(await readFile(file, "utf8")) as { cases: Array<{ logProbs: number[] }> };
  golden.cases[0]!.logProbs[0]! += delta;
  const text = JSON.stringify(golden);
  await writeFile(file, text);
  return sha256(text);
}

/** A manifest alone (no other file): enough for the repository scan, which reads nothing else. */
export async function writeBareManifest(dir: string, fields: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeManifest(dir, { format: "nextword-bundle/1", checksums: {}, ...fields });
}

/** Polls `check` every 50 ms until it returns a value other than undefined, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await check();
    if (got !== undefined) return got;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
