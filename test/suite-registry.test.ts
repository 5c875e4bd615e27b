// Keeps the hostile suite's registry (test/hostile/cases.ts) in step with the test files: a
// registered case whose test no longer exists under that name is an error, and so is a test
// in a hostile-*.test.ts file that no case lists. Names built at run time (template
// literals) are matched as patterns here; scripts/hostile-suite.ts checks the exact names
// against what actually ran.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tabulate } from "../scripts/hostile-suite.ts";
import { CASES, classOfFault, FAULT_PREFIX, HOSTILE_CLASSES } from "./hostile/cases.ts";

const TEST_DIR = import.meta.dirname;
const TITLE = /\b(?:test|it|describe)\(\s*(?:\n\s*)?(["'`])((?:\\.|(?!\1)[^\\])*)\1/g;

/** The titles of a file's tests: literal strings, or patterns for template literals. */
function titles(file: string): (string | RegExp)[] {
  const src = readFileSync(join(TEST_DIR, file), "utf8");
  const out: (string | RegExp)[] = [];
  for (const m of src.matchAll(TITLE)) {
    const [, quote, body] = m as unknown as [string, string, string];
    if (quote === "`" && body.includes("${")) {
      const parts = body.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      out.push(new RegExp(`^${parts.join(".*")}$`, "s"));
    } else out.push(body.replace(/\\(["'`\\])/g, "$1"));
  }
  return out;
}

const matches = (t: string | RegExp, name: string) => (typeof t === "string" ? t === name : t.test(name));

test("every registered hostile case names a test that exists in its file", () => {
  const missing: string[] = [];
  const cache = new Map<string, (string | RegExp)[]>();
  for (const c of CASES) {
    if (!existsSync(join(TEST_DIR, c.file))) {
      missing.push(`${c.file}: the file does not exist`);
      continue;
    }
    if (!cache.has(c.file)) cache.set(c.file, titles(c.file));
    if (!cache.get(c.file)!.some((t) => matches(t, c.name))) missing.push(`${c.file}: ${c.name}`);
  }
  assert.deepEqual(missing, []);
});

test("cases are unique, of a known class, and there are at least 200", () => {
  const keys = CASES.map((c) => `${c.file}\0${c.name}`);
  assert.equal(new Set(keys).size, keys.length, "a case is registered twice");
  for (const c of CASES) assert.ok(HOSTILE_CLASSES.includes(c.cls), `${c.file}: ${c.name}: class ${c.cls}`);
  assert.ok(CASES.length >= 200, `${CASES.length} cases`);
});

test("every test in a hostile-*.test.ts file is registered (or named fault: ...)", () => {
  const unlisted: string[] = [];
  for (const file of readdirSync(TEST_DIR).filter((f) => /^hostile-.*\.test\.ts$/.test(f))) {
    const src = readFileSync(join(TEST_DIR, file), "utf8");
    for (const m of src.matchAll(/\btest\(\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g)) {
      const name = m[2]!.replace(/\\(["'`\\])/g, "$1");
      if (name.startsWith(FAULT_PREFIX) || name.includes("${")) continue;
      if (!CASES.some((c) => c.file === file && c.name === name)) unlisted.push(`${file}: ${name}`);
    }
  }
  assert.deepEqual(unlisted, []);
});

test("the table marks a case that did not run as MISSING and one that failed as FAIL", () => {
  const [first, second] = CASES;
  const rows = tabulate([
    { file: second!.file, name: second!.name, ok: false, skip: false, kind: "test", error: "boom" },
    { file: "fault-x.test.ts", name: "fault: a torn index.json", ok: true, skip: false, kind: "test" },
  ]);
  assert.equal(rows.find((r) => r.name === first!.name)?.status, "MISSING");
  assert.equal(rows.find((r) => r.name === second!.name)?.status, "FAIL");
  const fault = rows.find((r) => r.name === "fault: a torn index.json");
  assert.equal(fault?.status, "pass");
  assert.equal(fault?.cls, "crashes");
});

test("fault: tests are classed by their words: clock, disk (ENOSPC, EIO), else crashes", () => {
  assert.equal(classOfFault("fault: clock steps back between appends"), "clock");
  assert.equal(classOfFault("fault: ENOSPC while sealing"), "disk");
  assert.equal(classOfFault("fault: EIO, a garbled frame of a .zst"), "disk");
  assert.equal(classOfFault("fault: kill -9 of the collector again and again"), "crashes");
  assert.equal(classOfFault("fault: torn index.json"), "crashes");
});
