/**
 * One Node.js line for everything: .node-version pins it, package.json's
 * `node` devDependency installs exactly that binary into node_modules/.bin
 * (which npm scripts put first on PATH, so `npm start`, `npm test` and tap's
 * children run on it whatever the machine's own node is), and `engines`
 * states the line. These must agree, and the tests must be running on it.
 */
import { readFileSync } from "node:fs";

import t from "tap";

const pinned = readFileSync(".node-version", "utf8").trim();
const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string }; devDependencies: Record<string, string> };
const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1]);

t.test("the tests run on the pinned Node.js line", async (t) => {
  t.match(pinned, /^\d+\.\d+\.\d+$/, ".node-version holds one exact version");
  t.equal(major(process.version), major(pinned), `tests run on ${process.version}; .node-version says ${pinned}: run them through npm (npm test), which puts node_modules/.bin first on PATH`);
});

t.test("package.json installs and declares that version", async (t) => {
  t.equal(pkg.devDependencies.node, pinned, "the `node` devDependency is .node-version, exactly");
  t.equal(pkg.engines.node, `>=${pinned} <${major(pinned) + 1}`, "engines: that version up to the next major");
});
