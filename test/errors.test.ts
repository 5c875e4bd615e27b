import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ERRORS } from "../src/errors.ts";

const ROOT = join(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

test("docs/ERRORS.md and the registry list the same codes with the same exit status", () => {
  const doc = readFileSync(join(ROOT, "docs/ERRORS.md"), "utf8");
  const rows = [...doc.matchAll(/^\| `(LW_[A-Z_]+)` *\| (\d+) *\| (.+?) *\|$/gm)];
  const documented = Object.fromEntries(rows.map((m) => [m[1], { exit: Number(m[2]), summary: m[3] }]));
  assert.deepEqual(
    documented,
    Object.fromEntries(
      Object.entries(ERRORS).map(([code, e]) => [code, { exit: e.exit, summary: e.summary }]),
    ),
  );
});

test("every code the source raises is registered, and every registered code is raised somewhere", () => {
  const files = sourceFiles(join(ROOT, "src"));
  const used = new Set<string>();
  for (const f of files) {
    if (f.endsWith("errors.ts")) continue;
    for (const m of readFileSync(f, "utf8").matchAll(/"(LW_[A-Z_]+)"/g)) used.add(m[1]!);
  }
  for (const code of used) assert.ok(code in ERRORS, `${code} is used but not registered`);
  for (const code of Object.keys(ERRORS)) {
    if (code === "LW_INTERNAL" || code === "LW_IO") continue; // raised through helpers in errors.ts
    assert.ok(used.has(code), `${code} is registered but never raised`);
  }
});
