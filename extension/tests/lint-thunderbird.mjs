// SPDX-License-Identifier: MIT
// web-ext lint of the Thunderbird build. web-ext is Firefox's linter: it refuses Thunderbird's
// `experiment_apis` (a privileged key in Firefox), so the build is linted as a copy without that
// key; the Experiment itself is exercised by the headless Thunderbird test.
import {execFileSync} from "node:child_process";
import {cpSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {join} from "node:path";

const root = new URL("..", import.meta.url).pathname;
const copy = join(root, "dist", "thunderbird-lint");
rmSync(copy, {recursive: true, force: true});
cpSync(join(root, "dist", "thunderbird"), copy, {recursive: true});
const manifest = JSON.parse(readFileSync(join(copy, "manifest.json"), "utf8"));
if (!manifest.experiment_apis?.smimeRawSend) throw new Error("the Thunderbird build has lost its Experiment");
delete manifest.experiment_apis;
rmSync(join(copy, "experiment"), {recursive: true});
writeFileSync(join(copy, "manifest.json"), JSON.stringify(manifest, null, 2));
try {
  execFileSync("npx", ["web-ext", "lint", "--source-dir", copy, "--self-hosted"], {stdio: "inherit", cwd: root});
} finally {
  rmSync(copy, {recursive: true, force: true});
}
