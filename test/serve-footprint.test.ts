// What loading the collector's code costs in memory before it does anything: an ES import of
// some builtins builds a facade that reads every export and so loads much more than the module
// (node:http's pulls in undici's fetch, http2 and assert: measured +7 MiB of heap and +10 MiB
// of the binary's pages). The collector is long-running, so this is paid for its whole life.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";

const ROOT = join(import.meta.dirname, "..");

test("loading serve's modules does not load http2, assert or undici's fetch", () => {
  const loaded = execFileSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(join(ROOT, "src/cli/serve.ts"))});
       process.stdout.write(process.moduleLoadList.join("\\n"));`,
    ],
    { encoding: "utf8" },
  ).split("\n");
  for (const unwanted of [
    "NativeModule http2",
    "NativeModule assert",
    "NativeModule internal/deps/undici/undici",
  ]) {
    assert.ok(!loaded.includes(unwanted), `${unwanted} is loaded`);
  }
  // the UI server still works through the CommonJS loader's node:http
  assert.ok(loaded.includes("NativeModule http"));
});
