/** The repository root, found from this file's place: testkit/ in the sources, dist-bench/testkit/ once built. */
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, here.includes(`${path.sep}dist-bench${path.sep}`) ? "../.." : "..");
})();
