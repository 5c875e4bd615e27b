import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = join(import.meta.dirname, "../src");

// what each folder may import from inside src/ (besides itself); see the folders' READMEs.
// An entry with a slash is one file of another folder: query reads syslog headers with wire's
// parser (search --field), and wire imports only errors.ts, so this makes no cycle.
const ALLOWED: Record<string, string[]> = {
  store: ["errors.ts"],
  wire: ["errors.ts"],
  query: ["errors.ts", "store", "wire/syslog-parse.ts"],
  config: ["errors.ts", "store"],
  policy: ["errors.ts", "store", "config"],
  collector: ["errors.ts", "store", "wire", "config", "policy", "seal", "output"],
  output: ["errors.ts", "store", "query", "config", "wire", "agent"],
  seal: ["errors.ts", "store"],
  agent: ["errors.ts", "wire", "store"],
  ui: ["errors.ts", "store", "query"],
  cli: [
    "errors.ts",
    "store",
    "query",
    "config",
    "collector",
    "agent",
    "policy",
    "wire",
    "ui",
    "seal",
    "output",
  ],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

test("folders import only what their README allows (the store never imports the CLI)", () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const folder = relative(SRC, file).split("/")[0]!;
    if (folder.endsWith(".ts")) continue; // src/errors.ts
    const allowed = ALLOWED[folder];
    assert.ok(allowed, `no import rule for src/${folder}`);
    for (const m of readFileSync(file, "utf8").matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
      const path = relative(SRC, resolve(file, "..", m[1]!));
      const target = path.split("/")[0]!;
      if (target === folder || allowed.includes(target) || allowed.includes(path)) continue;
      problems.push(`${relative(SRC, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(problems, []);
});
