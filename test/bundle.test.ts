// The start-up bundles (scripts/build.ts) and the bin's rule for using them (bin/fresh-bundle.js):
// a bundle runs only while it and every source in it are as built, and it behaves as the sources.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { basename, join, resolve } from "node:path";
import { describe, test } from "node:test";
import { freshBundle } from "../bin/fresh-bundle.js";
import { buildBundles } from "../scripts/build.ts";
import { COMMANDS } from "../src/cli/main.ts";
import { Store } from "../src/store/store.ts";
import { BIN } from "./helpers/cli.ts";
import { manualClock } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const ROOT = resolve(import.meta.dirname, "..");
const RUN_BUNDLE = join(ROOT, "bin/run-bundle.js");

/** Runs a bundle as bin/logward.js does (bin/run-bundle.js), with code caches in `cacheDir`. */
function runBundled(bundle: string, args: string[], cacheDir: string | null) {
  return spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { runBundle } = await import(${JSON.stringify(RUN_BUNDLE)}); const [b, c, ...a] = process.argv.slice(1); process.exitCode = await runBundle(b, a, c === "" ? null : c);`,
      bundle,
      cacheDir ?? "",
      ...args,
    ],
    // garbage run from a damaged cache may never end: a test fails, it does not hang
    { encoding: "utf8", timeout: 30_000 },
  );
}

describe("choosing a start-up bundle", () => {
  const root = tempDir();
  const write = (rel: string, text: string) => {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  test("a bundle whose sources are unchanged is chosen; any change, or anything odd, means the sources", () => {
    write("src/a.ts", "export const a = 1;\n");
    write("src/b.ts", "export const b = 2;\n");
    write("dist/show.js", "export const main = async () => 0;\n");
    const manifest = (inputs: Record<string, [number, number]>) =>
      JSON.stringify({ format: 3, file: "dist/show.js", stamp: stamp("dist/show.js"), inputs });
    const stamp = (rel: string): [number, number] => {
      const st = statSync(join(root, rel));
      return [st.mtimeMs, st.size];
    };
    write(
      "dist/show.manifest.json",
      manifest({ "src/a.ts": stamp("src/a.ts"), "src/b.ts": stamp("src/b.ts") }),
    );
    assert.equal(freshBundle(root, "show"), join(root, "dist/show.js"));

    // not bundled, no command, or a name that is not a command: never a path to another manifest
    assert.equal(freshBundle(root, "serve"), null);
    assert.equal(freshBundle(root, undefined), null);
    write("dist/sub/show.manifest.json", manifest({}));
    write("show.manifest.json", manifest({}));
    for (const odd of ["__proto__", "constructor", "toString", "sub/show", "../show", "Show", ""])
      assert.equal(freshBundle(root, odd), null, odd);

    // an edited source (new mtime, even with the same size) is not run from the bundle
    writeFileSync(join(root, "src/b.ts"), "export const b = 3;\n");
    assert.equal(freshBundle(root, "show"), null);
    write(
      "dist/show.manifest.json",
      manifest({ "src/a.ts": stamp("src/a.ts"), "src/b.ts": stamp("src/b.ts") }),
    );
    assert.equal(freshBundle(root, "show"), join(root, "dist/show.js"));
    // the same mtime but another size (a file put back with its old mtime) is not enough either
    const [mtime, size] = stamp("src/a.ts");
    write(
      "dist/show.manifest.json",
      manifest({ "src/a.ts": [mtime, size + 1], "src/b.ts": stamp("src/b.ts") }),
    );
    assert.equal(freshBundle(root, "show"), null);

    // a replaced bundle, a missing source, a damaged or foreign manifest
    writeFileSync(join(root, "dist/show.js"), "export const main = async () => 1;\n");
    assert.equal(freshBundle(root, "show"), null);
    write("dist/show.manifest.json", manifest({ "src/a.ts": stamp("src/a.ts"), "src/gone.ts": [1, 1] }));
    assert.equal(freshBundle(root, "show"), null);
    for (const bad of [
      "{",
      "null",
      "[]",
      JSON.stringify({
        format: 1,
        bundles: { show: { file: "dist/show.js", stamp: stamp("dist/show.js"), inputs: {} } },
      }),
      // an ES module bundle of an older build: the bin runs only this build's kind
      JSON.stringify({ format: 2, file: "dist/show.js", stamp: stamp("dist/show.js"), inputs: {} }),
      JSON.stringify({ format: 3, file: "dist/show.js", stamp: stamp("dist/show.js"), inputs: null }),
      JSON.stringify({ format: 3, file: 7, stamp: [0, 0], inputs: {} }),
      JSON.stringify({ format: 3, file: "dist/show.js", stamp: "x", inputs: {} }),
      JSON.stringify({
        format: 3,
        file: "dist/show.js",
        stamp: stamp("dist/show.js"),
        inputs: { "src/a.ts": 1 },
      }),
    ]) {
      write("dist/show.manifest.json", bad);
      assert.equal(freshBundle(root, "show"), null, bad);
    }
  });
});

describe("the start-up bundles", () => {
  const out = tempDir();
  const store = tempDir();

  test("every command is bundled, and a bundle prints exactly what the sources print", async () => {
    const result = await buildBundles(out);
    assert.ok(result, "esbuild is a devDependency and must be installed for the tests");
    assert.deepEqual([...result.built].sort(), Object.keys(COMMANDS).sort());
    // code that finds files beside its module (the UI's static files, the workers, the syslog
    // helper) finds them beside its source file: every import.meta in a bundle is rewritten to
    // a path from the bundle's folder to a source file or folder that exists
    for (const c of result.built) {
      const text = readFileSync(freshBundle(ROOT, c, out)!, "utf8");
      assert.equal([...text.matchAll(/import\.meta/g)].length, 0, `${c}: no import.meta left`);
      const rewritten = [
        ...text.matchAll(/new URL\("([^"]+)", __lw_bundle_url\)|__lw_bundle_dir \+ "\/([^"]+)"/g),
      ];
      assert.equal(rewritten.length, [...text.matchAll(/__lw_bundle_(url|dir)/g)].length, c);
      for (const m of rewritten) {
        const target = join(out, m[1] ?? m[2]!);
        assert.ok(existsSync(target) && target.startsWith(join(ROOT, "src")), `${c}: ${target}`);
      }
    }

    const clock = manualClock();
    const s = await Store.open(store, { clock, maxSegmentBytes: 8 * 1024 });
    const w = await s.stream("vm", "main");
    for (let i = 0; i < 400; i++) {
      clock.advance(1000);
      w.appendRecords([Buffer.from(i % 50 === 0 ? `bad \x1b[31m ${i} \u202e` : `line ${i} caf\u00e9 ok`)]);
    }
    await s.close();

    const bundle = freshBundle(ROOT, "show", out);
    assert.match(bundle ?? "", /\/show\.[0-9a-f]{16}\.js$/);
    const viaBundle = (args: string[]) => runBundled(freshBundle(ROOT, args[0], out)!, args.slice(1), null);
    const viaSource = (args: string[]) =>
      spawnSync(process.execPath, [BIN, ...args], {
        encoding: "utf8",
        env: { ...process.env, LOGWARD_FROM_SOURCE: "1" },
      });
    for (const args of [
      ["show", "vm", "--store", store],
      ["show", "vm/main", "--json", "--store", store],
      [
        "show",
        "vm",
        "--since",
        "2025-11-24T16:00:00.1Z",
        "--until",
        "2025-11-24T16:00:00.2Z",
        "--store",
        store,
      ],
      ["search", "caf", "--count", "--store", store],
      ["ls", "--json", "--store", store],
      ["show", "nothing-here", "--store", store],
      ["show", "--help"],
    ]) {
      const a = viaBundle(args);
      const b = viaSource(args);
      assert.equal(a.stdout, b.stdout, args.join(" "));
      assert.equal(a.stderr, b.stderr, args.join(" "));
      assert.equal(a.status, b.status, args.join(" "));
    }
    const shown = viaBundle(["show", "vm", "--store", store]).stdout;
    assert.ok(shown.includes("\\x1b[31m") && !shown.includes("\x1b"), "escaped through the bundle too");
  });
});

/** A code cache file as run-bundle.js writes it: magic, length, and two equal copies. */
function whole(file: Buffer): boolean {
  if (file.length < 12 || file.toString("latin1", 0, 8) !== "LWCODE1\n") return false;
  const n = file.readUInt32LE(8);
  return n > 0 && file.length === 12 + 2 * n && file.subarray(12, 12 + n).equals(file.subarray(12 + n));
}

describe("a bundle's code cache (bin/run-bundle.js)", () => {
  const out = tempDir();
  const store = tempDir();
  test("made after the first run, used as it is after, remade when V8 refuses it, private or not at all", async () => {
    assert.ok(await buildBundles(out));
    const s = await Store.open(store);
    const w = await s.stream("vm", "main");
    w.appendRecords([Buffer.from("one"), Buffer.from("two")]);
    await s.close();
    const bundle = freshBundle(ROOT, "show", out)!;
    const args = ["vm", "--store", store];
    const want = runBundled(bundle, args, null).stdout;
    assert.match(want, / one\n.* two\n$/s);

    const dir = join(tempDir(), "code-cache");
    const cache = join(dir, `${basename(bundle)}.v8cache`);
    const first = runBundled(bundle, args, dir);
    assert.equal(first.stdout, want);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(cache).mode & 0o777, 0o600);
    const made = readFileSync(cache);
    assert.ok(whole(made), "the file holds the cache twice");
    // V8 takes it: the next run leaves it as it is
    assert.equal(runBundled(bundle, args, dir).stdout, want);
    assert.ok(readFileSync(cache).equals(made));
    // a damaged cache (V8 checks only its header: a damaged body ran as garbage and printed
    // nothing) is not used; the command is unaffected and the cache made again
    const half = (made.length - 12) / 2;
    for (const at of [12 + 100, 12 + half + 100, made.length - 1]) {
      const damaged = Buffer.from(made);
      damaged[at]! ^= 0x5a;
      writeFileSync(cache, damaged);
      assert.equal(runBundled(bundle, args, dir).stdout, want, `damaged at ${at}`);
      assert.ok(whole(readFileSync(cache)), `made again after damage at ${at}`);
    }
    // cut short (as no rename of a whole file leaves it, but a disk might)
    writeFileSync(cache, made.subarray(0, made.length - 10));
    assert.equal(runBundled(bundle, args, dir).stdout, want);
    assert.ok(whole(readFileSync(cache)), "made again after a cut");
    // the cache of an earlier build of the command goes when this one's is written, if it is
    // over a day old; a recent one (another install used in turn) stays
    const older = join(dir, "show.0123456789abcdef.js.v8cache");
    const recent = join(dir, "show.fedcba9876543210.js.v8cache");
    writeFileSync(older, "old");
    writeFileSync(recent, "recent");
    const twoDaysAgo = new Date(Date.now() - 2 * 86400_000);
    utimesSync(older, twoDaysAgo, twoDaysAgo);
    rmSync(cache);
    runBundled(bundle, args, dir);
    assert.equal(existsSync(older), false);
    assert.equal(existsSync(recent), true);
    assert.equal(existsSync(cache), true);
    // a directory others may write is not trusted with code: no cache read or written there
    const shared = join(tempDir(), "shared");
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    assert.equal(runBundled(bundle, args, shared).stdout, want);
    assert.deepEqual(readdirSync(shared), []);
  });
});
