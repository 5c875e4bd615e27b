// What the short-lived readers load before they answer. A one-minute `logward show` should cost
// little more than Node's own start (issue 20: 50 ms), and most of the rest was Node modules a
// plain read never uses; this checks, for the sources and for a start-up bundle
// (scripts/build.ts), that those stay unloaded. No timings: which of Node's modules a run
// loaded (process.moduleLoadList) is exact.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { before, describe, test } from "node:test";
import { freshBundle } from "../bin/fresh-bundle.js";
import { buildBundles } from "../scripts/build.ts";
import { Store } from "../src/store/store.ts";
import { BIN } from "./helpers/cli.ts";
import { manualClock } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

// a preload that writes, at exit, every Node module the process loaded
const RECORD_LOADS = `data:text/javascript,process.on("exit", () => process.getBuiltinModule("node:fs").writeFileSync(process.env.LOADS_OUT, process.moduleLoadList.join("\\n")))`;

const ROOT = resolve(import.meta.dirname, "..");
const store = tempDir();
const out = tempDir();
let n = 0;

/** The Node modules one run loaded (its stdout a pipe, as under a shell's `|`), and its output. */
function loads(how: "source" | "bundle", args: string[]): { loaded: Set<string>; stdout: string } {
  const file = join(out, `loads-${n++}.txt`);
  const argv =
    how === "source"
      ? [BIN, ...args]
      : [
          "--input-type=module",
          "-e",
          `const { runBundle } = await import(${JSON.stringify(join(ROOT, "bin/run-bundle.js"))}); process.exitCode = await runBundle(process.argv[1], process.argv.slice(2), null);`,
          freshBundle(ROOT, args[0]!, join(out, "dist"))!,
          ...args.slice(1),
        ];
  const r = spawnSync(process.execPath, ["--import", RECORD_LOADS, ...argv], {
    encoding: "utf8",
    env: { ...process.env, LOADS_OUT: file, LOGWARD_FROM_SOURCE: "1", LOGWARD_STORE: "" },
  });
  assert.equal(r.status, 0, r.stderr);
  const text = process.getBuiltinModule("node:fs").readFileSync(file, "utf8");
  return { loaded: new Set(text.split("\n")), stdout: r.stdout };
}

describe("a short read's start-up", () => {
  before(async () => {
    // one active, uncompressed segment: what a one-minute window of a recent stream reads
    const clock = manualClock();
    const s = await Store.open(store, { clock });
    const w = await s.stream("vm", "main");
    for (let i = 0; i < 100; i++) {
      clock.advance(1000);
      w.appendRecords([Buffer.from(`line ${i}`)]);
    }
    await s.close();
    assert.ok(await buildBundles(join(out, "dist")), "esbuild is a devDependency");
  });

  for (const how of ["source", "bundle"] as const) {
    test(`show and ls from the ${how} do not load Node's async context storage`, () => {
      for (const args of [
        ["show", "vm", "--store", store],
        ["ls", "--store", store],
      ]) {
        const { loaded, stdout } = loads(how, args);
        assert.ok(stdout.length > 0, args.join(" "));
        // an AsyncLocalStorage is made only when a caller collects damaged ranges (the web UI)
        const async = [...loaded].filter((m) => m.includes("async_local_storage"));
        assert.deepEqual(async, [], args.join(" "));
      }
    });
  }
});
