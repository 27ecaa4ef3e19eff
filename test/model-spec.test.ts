/**
 * How models are named and found: a request's `model` (parseModelSpec,
 * specMatches), MODELS (parseModelPolicy), version order (compareVersions),
 * the one NOT_FOUND message (unknownModel), and the repository scan and
 * selection (src/models/repository.ts) on temporary folders.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import t from "tap";

import { ServiceError } from "../src/errors.js";
import { compareVersions, formatModel, parseModelPolicy, parseModelSpec, specMatches, unknownModel } from "../src/models/model-spec.js";
import { scanRepository, selectEntries, type RepositoryEntry } from "../src/models/repository.js";
import { sha256, tempRepository, writeBareManifest } from "./helpers/model-repo.js";

t.test("parseModelSpec: name, name@version, or null", async (t) => {
  t.same(parseModelSpec("tiny"), { name: "tiny", version: null });
  t.same(parseModelSpec("tiny@1.0.0"), { name: "tiny", version: "1.0.0" });
  t.same(parseModelSpec("lstm512-keyboard-int8@1.3.0+int8"), { name: "lstm512-keyboard-int8", version: "1.3.0+int8" }, "build metadata in a version");
  t.same(parseModelSpec("a_b.c@v2-rc.1"), { name: "a_b.c", version: "v2-rc.1" });
  for (const bad of ["", "@1.0", "tiny@", "a@b@c", "two words", "tiny+int8", "tiny/1.0", "é"]) {
    t.equal(parseModelSpec(bad), null, JSON.stringify(bad));
  }
  t.equal(formatModel({ name: "tiny", version: null }), "tiny");
  t.equal(formatModel({ name: "tiny", version: "1.0.0" }), "tiny@1.0.0");
});

t.test("specMatches: a name matches each of its versions, name@version only that one", async (t) => {
  const ref = { name: "tiny", version: "1.0.0" };
  t.ok(specMatches("tiny", ref));
  t.ok(specMatches("tiny@1.0.0", ref));
  t.notOk(specMatches("tiny@1.0", ref), "versions are compared as text here, not by order");
  t.notOk(specMatches("tiny@2.0.0", ref));
  t.notOk(specMatches("tin", ref));
  t.notOk(specMatches("tiny extra", ref), "not a spec at all");
});

t.test("parseModelPolicy: names, name@version entries, or *", async (t) => {
  t.same(parseModelPolicy("*"), { all: true });
  t.same(parseModelPolicy(" * "), { all: true });
  t.same(parseModelPolicy("tiny"), { all: false, entries: [{ name: "tiny", version: null }] });
  t.same(parseModelPolicy(" tiny , other@2.0.0,, tiny@1.0.0 "), {
    all: false,
    entries: [
      { name: "tiny", version: null },
      { name: "other", version: "2.0.0" },
      { name: "tiny", version: "1.0.0" },
    ],
  });
  t.throws(() => parseModelPolicy(""), /at least one model/);
  t.throws(() => parseModelPolicy(" , "), /at least one model/);
  t.throws(() => parseModelPolicy("tiny,*"), /"\*" is not a model name or name@version/, "* mixed with names is refused, naming the entry");
  t.throws(() => parseModelPolicy("tiny,bad name"), /"bad name" is not a model name/);
});

t.test("compareVersions: numbers as numbers, pre-release before release, build metadata last, text after versions", async (t) => {
  const sign = (a: string, b: string) => Math.sign(compareVersions(a, b));
  t.equal(sign("1.10.0", "1.9.0"), 1, "1.10.0 > 1.9.0 (not as text)");
  t.equal(sign("1.9.0", "1.10.0"), -1);
  t.equal(sign("2", "1.99.99"), 1);
  t.equal(sign("1.0", "1.0.0"), 0, "missing parts are zeros");
  t.equal(sign("v1.2.0", "1.2.0"), 0, "a leading v is allowed");
  t.equal(sign("1.0.0-rc.1", "1.0.0"), -1, "a pre-release comes before its release");
  t.equal(sign("1.0.0", "1.0.0-rc.1"), 1);
  t.equal(sign("1.0.0-alpha", "1.0.0-beta"), -1);
  t.equal(sign("1.0.0-rc.1", "0.9.0"), 1, "numbers first");
  t.equal(sign("1.0.0-rc.10", "1.0.0-rc.2"), 1, "pre-release numbers compare as numbers");
  t.equal(sign("1.0.0-rc.2", "1.0.0-rc.2.1"), -1, "fewer identifiers first");
  t.equal(sign("1.0.0-1", "1.0.0-alpha"), -1, "a numeric identifier before a word");
  t.equal(sign("1.0.0", "1.0.0+int8"), -1, "build metadata is a tie-break");
  t.equal(sign("1.0.0+fp32", "1.0.0+int8"), -1, "compared as text");
  t.equal(sign("1.0.0+int8", "1.0.1"), -1, "after the numbers");
  t.equal(sign("1.0.0+int8", "1.0.0+int8"), 0);
  t.equal(sign("latest", "99.0.0"), 1, "text that is no version sorts after every version");
  t.equal(sign("1.0.0", "latest"), -1);
  t.equal(sign("abc", "abd"), -1, "two texts: as text");
  t.equal(sign("abc", "abc"), 0);
  const sorted = ["latest", "1.10.0", "1.0.0+int8", "1.9.0", "1.0.0", "1.0.0-rc.1", "0.1"].sort(compareVersions);
  t.same(sorted, ["0.1", "1.0.0-rc.1", "1.0.0", "1.0.0+int8", "1.9.0", "1.10.0", "latest"]);
});

t.test("unknownModel: one NOT_FOUND naming `model`, the unknown name or version, and what is served", async (t) => {
  const served = ["tiny@1.0.0", "tiny@1.1.0", "other@2.0.0"];
  const name = unknownModel("nope", served);
  t.ok(name instanceof ServiceError);
  t.equal(name.code, "NOT_FOUND");
  t.equal(name.field, "model");
  t.equal(name.message, 'model: no model "nope" is served (served: tiny@1.0.0, tiny@1.1.0, other@2.0.0)');
  t.equal(unknownModel("nope@1.0.0", served).message, 'model: no model "nope" is served (served: tiny@1.0.0, tiny@1.1.0, other@2.0.0)', "an unknown name, with a version");
  t.equal(unknownModel("tiny@9.9.9", served).message, 'model: no version "9.9.9" of model "tiny" is served (served: tiny@1.0.0, tiny@1.1.0, other@2.0.0)');
  t.equal(unknownModel("tin@1.0.0", served).message, 'model: no model "tin" is served (served: tiny@1.0.0, tiny@1.1.0, other@2.0.0)', "a name's prefix is another name");
  t.equal(unknownModel("tiny", []).message, 'model: no model "tiny" is served (served: none)');
  t.equal(unknownModel("not a spec", served).message, 'model: no model "not a spec" is served (served: tiny@1.0.0, tiny@1.1.0, other@2.0.0)');
});

/** A repository holding each layout the scan knows, and each thing it must skip or report. */
async function layouts(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const repo = await tempRepository(t, "nextword-scan-");
  // Depth 1; the folder's name is not the bundle's.
  await writeBareManifest(path.join(repo, "alpha-folder"), { name: "alpha", version: "1.0.0" });
  await writeFile(path.join(repo, "alpha-folder", "vocab.txt"), "x".repeat(1000));
  // <name>/<version>/ (Triton's layout), versions whose text order is not their order.
  await writeBareManifest(path.join(repo, "beta", "1.9.0"), { name: "beta", version: "1.9.0" });
  await writeBareManifest(path.join(repo, "beta", "1.10.0"), { name: "beta", version: "1.10.0" });
  await writeBareManifest(path.join(repo, "beta", "1.10.0-rc.1"), { name: "beta", version: "1.10.0-rc.1" });
  // Files copied, manifest not yet: invisible.
  await mkdir(path.join(repo, "gamma", "2.0.0"), { recursive: true });
  await writeFile(path.join(repo, "gamma", "2.0.0", "encoder_head.onnx"), "half a copy");
  await mkdir(path.join(repo, "delta"));
  await writeFile(path.join(repo, "delta", "vocab.txt"), "no manifest");
  // A manifest of another format (e.g. models/twin-full-dense): skipped, not a problem.
  await writeBareManifest(path.join(repo, "twin"), { format: "something-else/1", name: "twin", version: "1" });
  // Broken manifests: problems, named by the folder.
  await mkdir(path.join(repo, "epsilon"));
  await writeFile(path.join(repo, "epsilon", "manifest.json"), "{ not json");
  await mkdir(path.join(repo, "zeta", "3.0.0"), { recursive: true });
  await writeFile(path.join(repo, "zeta", "3.0.0", "manifest.json"), "[");
  await writeBareManifest(path.join(repo, "eta"), { name: "eta", version: "" });
  // Hidden folders (a copy being staged) and plain files are not looked into.
  await writeBareManifest(path.join(repo, ".staging"), { name: "alpha", version: "9.0.0" });
  await writeFile(path.join(repo, "README"), "not a bundle");
  return repo;
}

t.test("scanRepository: both layouts; no manifest or another format is invisible; unreadable manifests are problems", async (t) => {
  const repo = await layouts(t);
  const scan = await scanRepository(repo);
  const ids = scan.entries.map((e) => `${e.name}@${e.version}`).sort();
  t.same(ids, ["alpha@1.0.0", "beta@1.10.0", "beta@1.10.0-rc.1", "beta@1.9.0"]);
  const alpha = scan.entries.find((e) => e.name === "alpha")!;
  t.equal(alpha.dir, path.join(repo, "alpha-folder"), "identity from the manifest, not the folder");
  const manifestText = await readFile(path.join(alpha.dir, "manifest.json"));
  t.equal(alpha.fingerprint, sha256(manifestText), "fingerprint: the manifest's sha256");
  t.equal(alpha.bytes, manifestText.length + 1000, "bytes: the folder's files");

  const problems = [...scan.problems].sort((a, b) => a.name.localeCompare(b.name));
  t.same(
    problems.map((p) => [p.name, p.dir]),
    [
      ["epsilon", path.join(repo, "epsilon")],
      ["eta", path.join(repo, "eta")],
      ["zeta", path.join(repo, "zeta", "3.0.0")],
    ],
    "named by the folder that tells (its parent for <name>/<version>/)",
  );
  t.match(problems[0]!.reason, `${path.join(repo, "epsilon", "manifest.json")}: not JSON`);
  t.match(problems[1]!.reason, /name and version must be non-empty strings/);
  t.match(problems[2]!.reason, /manifest\.json: not JSON/);

  // Once the copy's manifest lands, the folder appears.
  await writeBareManifest(path.join(repo, "gamma", "2.0.0"), { name: "gamma", version: "2.0.0" });
  t.ok((await scanRepository(repo)).entries.some((e) => e.name === "gamma" && e.version === "2.0.0"), "visible once its manifest is in place");
  // A new manifest under the same version is a new fingerprint.
  await writeBareManifest(path.join(repo, "alpha-folder"), { name: "alpha", version: "1.0.0", createdAt: "later" });
  t.not((await scanRepository(repo)).entries.find((e) => e.name === "alpha")!.fingerprint, alpha.fingerprint);

  await t.rejects(scanRepository(path.join(repo, "no-such-folder")), { code: "ENOENT" }, "an unreadable root is an error for the caller");
});

t.test("selectEntries: latest per name, exact versions, * over every name, missing names reported", async (t) => {
  const entry = (name: string, version: string): RepositoryEntry => ({ name, version, dir: `/r/${name}/${version}`, fingerprint: `${name}${version}`, bytes: 1 });
  const entries = [entry("beta", "1.9.0"), entry("beta", "1.10.0"), entry("beta", "1.10.0-rc.1"), entry("alpha", "1.0.0"), entry("alpha", "1.0.0+int8")];
  const ids = (r: { selected: RepositoryEntry[] }) => r.selected.map((e) => `${e.name}@${e.version}`);

  const all = selectEntries(entries, parseModelPolicy("*"));
  t.same(ids(all), ["alpha@1.0.0+int8", "beta@1.10.0"], "every name at its highest version, by name");
  t.same(all.missing, []);

  const named = selectEntries(entries, parseModelPolicy("beta,alpha@1.0.0,beta@1.9.0,beta@1.10.0,gone,alpha@7"));
  t.same(ids(named), ["beta@1.10.0", "alpha@1.0.0", "beta@1.9.0"], "policy order, each version once");
  t.same(named.missing, ["gone", "alpha@7"], "what the policy asks for and the repository lacks");

  t.same(selectEntries([], parseModelPolicy("*")), { selected: [], missing: [] });
  t.same(selectEntries([], parseModelPolicy("tiny")), { selected: [], missing: ["tiny"] });
});

t.test("scan then select: the repository's latest version of a name is the one served", async (t) => {
  const repo = await layouts(t);
  const { selected, missing } = selectEntries((await scanRepository(repo)).entries, parseModelPolicy("beta,alpha,epsilon"));
  t.same(
    selected.map((e) => [e.name, e.version, e.dir]),
    [
      ["beta", "1.10.0", path.join(repo, "beta", "1.10.0")],
      ["alpha", "1.0.0", path.join(repo, "alpha-folder")],
    ],
  );
  t.same(missing, ["epsilon"], "a name whose manifest is unreadable is missing (the scan's problem says why)");
});
