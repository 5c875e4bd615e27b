// The start-up bundles (scripts/build.ts) and the bin's rule for using them (bin/fresh-bundle.js):
// a bundle runs only while it and every source in it are as built, and it behaves as the sources.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { freshBundle } from "../bin/fresh-bundle.js";
import { buildBundles } from "../scripts/build.ts";
import { COMMANDS } from "../src/cli/main.ts";
import { Store } from "../src/store/store.ts";
import { BIN } from "./helpers/cli.ts";
import { manualClock } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const ROOT = resolve(import.meta.dirname, "..");

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
      JSON.stringify({ format: 2, file: "dist/show.js", stamp: stamp("dist/show.js"), inputs });
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
      JSON.stringify({ format: 2, file: "dist/show.js", stamp: stamp("dist/show.js"), inputs: null }),
      JSON.stringify({ format: 2, file: 7, stamp: [0, 0], inputs: {} }),
      JSON.stringify({ format: 2, file: "dist/show.js", stamp: "x", inputs: {} }),
      JSON.stringify({
        format: 2,
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

  test("every short-lived command is bundled, and a bundle prints exactly what the sources print", async () => {
    const result = await buildBundles(out);
    assert.ok(result, "esbuild is a devDependency and must be installed for the tests");
    assert.deepEqual([...result.built].sort(), Object.keys(COMMANDS).sort());
    // code that finds files beside its module (the UI's static files, the workers, the syslog
    // helper) finds them beside its source file: every import.meta in a bundle is rewritten to
    // a path from the bundle to a source file or folder that exists
    for (const c of result.built) {
      const text = readFileSync(join(out, `${c}.js`), "utf8");
      const uses = [...text.matchAll(/import\.meta\.\w+/g)].length;
      const rewritten = [
        ...text.matchAll(/new URL\("([^"]+)", import\.meta\.url\)|import\.meta\.dirname \+ "\/([^"]+)"/g),
      ];
      assert.equal(rewritten.length, uses, `${c}: every import.meta is rewritten`);
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
    assert.equal(bundle, join(out, "show.js"));
    const viaBundle = (args: string[]) =>
      spawnSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          "const { main } = await import(process.argv[1]); process.exitCode = await main(process.argv.slice(2));",
          join(out, `${args[0]}.js`),
          ...args.slice(1),
        ],
        { encoding: "utf8" },
      );
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
