// Fuzzing the configuration loader (issue 21, "Fuzzing and property tests"): config/load.ts on
// arbitrary TOML text, and on well-formed TOML that gives every key of every section (and
// unknown ones) arbitrary values: a configuration either loads or is refused with one
// LogwardError LW_CONFIG, never another exception, and its message is safe to print.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { CONFIG_KEYS, loadConfig } from "../src/config/load.ts";
import { LogwardError } from "../src/errors.ts";
import { crashers, runs, thrown } from "./helpers/fuzz.ts";

const dir = mkdtempSync(join(tmpdir(), "lw-fuzz-config-"));
mkdirSync(join(dir, "conf.d"));
writeFileSync(join(dir, "conf.d", "a.toml"), "[collector]\nmax_sessions = 3\n");
const file = join(dir, "logward.toml");

/** Loads `text` as the configuration file: fine, or LW_CONFIG; anything else fails the test. */
function load(text: string): void {
  writeFileSync(file, text);
  const err = thrown(() => loadConfig(join(dir, "store"), file));
  if (err === undefined) return;
  assert.ok(
    err instanceof LogwardError && err.code === "LW_CONFIG",
    `threw ${String((err as Error)?.stack ?? err)}`,
  );
}

/** Values of every TOML type, with the ones that break naive parsers: huge, negative, odd strings. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(
      0,
      -1,
      1,
      2 ** 53,
      1e308,
      0.5,
      true,
      false,
      "",
      "0",
      "1MiB",
      "10GiB",
      "-5s",
      "1d",
      "off",
      "drop-oldest",
    ),
    fc.constantFrom(
      "/dev/null",
      "conf.d/*.toml",
      "missing/*.toml",
      "constructor",
      "__proto__",
      "\u001b[2J",
      "a b",
    ),
    fc.integer(),
    fc.double({ noNaN: false }),
    fc.string({ maxLength: 12 }),
    fc.date({ noInvalidDate: true }),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "port", "path", "constructor", "__proto__"), tie("v"), { maxKeys: 3 }),
  ),
})).v;

/** A document: known sections with known and unknown keys, each with any value. */
const doc = fc
  .array(
    fc.tuple(
      fc.constantFrom(...Object.keys(CONFIG_KEYS), "include", "nonsense", "__proto__"),
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(...Object.values(CONFIG_KEYS).flat()),
            fc.constantFrom("TYPE", "lines", "bogus", "constructor", "default"),
          ),
          value,
        ),
        { maxLength: 4 },
      ),
      fc.constantFrom("table", "array", "value"),
    ),
    { maxLength: 5 },
  )
  .map((sections) => {
    const out: Record<string, unknown> = {};
    for (const [name, pairs, shape] of sections) {
      const table = Object.fromEntries(pairs);
      Object.defineProperty(out, name, {
        value: shape === "array" ? [table] : shape === "value" ? (pairs[0]?.[1] ?? 1) : table,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
    return out;
  });

describe("the configuration loader", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("every key with any value: loads or LW_CONFIG, never another exception", () => {
    for (const { bytes } of crashers("config")) load(bytes.toString("utf8"));
    fc.assert(
      fc.property(doc, (d) => {
        let text: string;
        try {
          text = stringify(d);
        } catch {
          return; // not representable in TOML (a NaN key, a date in an array…)
        }
        load(text);
      }),
      runs(1500, { slow: true }),
    );
  });

  test("arbitrary TOML-like text: loads or LW_CONFIG", () => {
    const token = fc.constantFrom(
      "[collector]\n",
      "[[policy]]\n",
      "[groups.a]\n",
      "[[listen]]\n",
      "[[output]]\n",
      "[ui]\n",
      "[seal]\n",
      "max_sessions = ",
      "quota = ",
      "port = ",
      "include = ",
      '"conf.d/*.toml"',
      "1\n",
      "-1\n",
      '"1MiB"\n',
      "[1, 2]\n",
      "{ a = 1 }\n",
      "1979-05-27T07:32:00Z\n",
      "=",
      '"',
      "\n",
      "nan\n",
      "inf\n",
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(token, fc.string({ maxLength: 6 })), { maxLength: 20 }), (parts) =>
        load(parts.join("")),
      ),
      runs(1500, { slow: true }),
    );
  });
});
