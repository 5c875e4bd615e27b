// The install path of docs/qubes.md (section 1, steps 2 and 3), performed as the guide writes
// it: the commands are read from the guide's two marked blocks and run one by one in a clean
// copy of the source, with only what cannot happen here replaced:
//   - `qvm-copy FILE` copies FILE into a stand-in ~/QubesIncoming/<qube>/;
//   - `sudo` is dropped, `apt install npm` skipped (npm is here already);
//   - /opt/logward and /usr/bin/logward of the template are directories under a temporary root;
//   - `--https-proxy http://127.0.0.1:8082` (Qubes' updates proxy) is dropped: npm goes to the
//     registry as it does everywhere else in CI.
// Then `logward --version` and `logward demo` run from there, with no node_modules/.bin on PATH:
// the `node` on PATH is the machine's own (Node 20 in CI), so logward must run on the Node 24
// it brought. Only the npm registry is used.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { tempDir } from "./helpers/tmp.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PROXY = "--https-proxy http://127.0.0.1:8082";

/** The commands of the guide's block marked `<!-- install-test: NAME -->`, continuations joined. */
function guideBlock(name: string): string[] {
  const text = readFileSync(join(ROOT, "docs/qubes.md"), "utf8");
  const m = new RegExp(`<!-- install-test: ${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(text);
  assert.ok(m, `docs/qubes.md has the block <!-- install-test: ${name} -->`);
  return m[1]!
    .replace(/\\\n\s*/g, "")
    .split("\n")
    .map((l) => l.replace(/^\s*/, "").replace(/\s+#.*$/, ""))
    .filter((l) => l !== "");
}

// The checkout as CI has it, without what a build or a test run leaves behind.
const LEFT_OUT = new Set([".git", "node_modules", "dist", "lib", "test-output", "tmp"]);

test("the guide's install steps work in a clean directory: npm ci, npm pack, npm install --global, then logward --version and the demo", {
  timeout: 300_000,
}, () => {
  const t = tempDir("logward-install-");
  const checkout = join(t, "logward");
  cpSync(ROOT, checkout, {
    recursive: true,
    filter: (p) => {
      const rel = relative(ROOT, p);
      return !LEFT_OUT.has(rel.split("/")[0]!) && !/^logward-.*\.tgz$/.test(rel);
    },
  });
  const template = join(t, "template");
  mkdirSync(join(template, "usr/bin"), { recursive: true });
  const incoming = join(t, "home/QubesIncoming/build-dvm");
  // No node_modules/.bin: `node` is whatever the machine has; npm is the machine's npm.
  const PATH = [join(template, "usr/bin"), ...(process.env.PATH ?? "").split(delimiter)]
    .filter((p) => !p.includes("node_modules"))
    .join(delimiter);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH };
  delete env.LOGWARD_STORE;
  const timings: string[] = [];
  const sh = (cmd: string, cwd: string): string => {
    const t0 = performance.now();
    const r = spawnSync("sh", ["-c", cmd], { cwd, env, encoding: "utf8", maxBuffer: 64 << 20 });
    timings.push(
      `${cmd.split(" ").slice(0, 3).join(" ")}: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    assert.equal(r.status, 0, `'${cmd}' failed:\n${r.stdout}\n${r.stderr}`);
    return r.stdout + r.stderr;
  };

  // Step 2: in a qube with network and the source.
  const pack = guideBlock("pack");
  assert.deepEqual(pack.slice(0, 1), ["cd logward"]);
  let cwd = t;
  for (const cmd of pack) {
    if (cmd === "cd logward") {
      cwd = checkout;
    } else if (cmd.startsWith("qvm-copy ")) {
      mkdirSync(incoming, { recursive: true });
      cpSync(join(cwd, cmd.slice("qvm-copy ".length)), join(incoming, cmd.slice("qvm-copy ".length)));
    } else {
      const out = sh(cmd, cwd);
      // The set-up shows nothing a newcomer should wonder about (README, Set-up).
      assert.doesNotMatch(out, /EBADENGINE|install-scripts|npm warn/i, `${cmd}:\n${out}`);
    }
  }
  const tgz = readdirSync(incoming).find((f) => f.endsWith(".tgz"));
  assert.ok(tgz, "npm pack wrote a tarball and qvm-copy sent it");
  const files = execFileSync("tar", ["-tzf", join(incoming, tgz)], { encoding: "utf8" }).split("\n");
  assert.ok(files.includes("package/lib/cli/main.js"), "the package runs compiled JavaScript");
  assert.ok(files.includes("package/lib/ui/static/index.html"), "with the web UI's files beside it");
  assert.ok(files.includes("package/packaging/qubes/logvm/qubes-rpc/logward.Blob"));
  assert.ok(!files.some((f) => /^package\/(src|test|scripts|node_modules|dist)\//.test(f)), files.join(" "));
  assert.ok(!existsSync(join(checkout, "lib")), "postpack removed lib/ from the checkout");

  // Step 3: in the template.
  const install = guideBlock("install");
  for (const line of install) {
    let cmd = line.replace(/^sudo /, "");
    if (/^(apt|dnf) install npm$/.test(cmd)) continue;
    if (cmd.includes(PROXY)) cmd = cmd.replace(` ${PROXY}`, "");
    cmd = cmd
      .replaceAll("/opt/logward", join(template, "opt/logward"))
      .replaceAll("/usr/bin/logward", join(template, "usr/bin/logward"))
      .replaceAll("~/QubesIncoming/", `${join(t, "home/QubesIncoming")}/`);
    const out = sh(cmd, join(t, "home"));
    if (cmd.startsWith("npm ")) assert.doesNotMatch(out, /npm warn/i, `${cmd}:\n${out}`);
    if (cmd === "logward --version") assert.equal(out, "logward 0.1.0\n");
  }
  assert.ok(
    install.some((l) => l.includes(PROXY)),
    "the template fetches through the updates proxy",
  );

  // The demo, from the installed package: a real collector, qrexec-style ingest processes.
  const demo = sh("logward demo", t);
  assert.match(demo, /# logward ls/);
  assert.match(demo, /personal\s/);
  const store = /The store is (\S+): plain text/.exec(demo)?.[1];
  assert.ok(store && existsSync(join(store, "origins/work")), demo);
  rmSync(store, { recursive: true, force: true });
  // what it runs: the Node 24 that npm installed beside it, not the `node` on PATH
  const node = sh(
    `${join(template, "opt/logward/lib/node_modules/logward/node_modules")}/node-linux-*/bin/node --version`,
    t,
  );
  assert.match(node, /^v24\./);
  console.log(`install test: ${timings.join("; ")}`);
});
