// No module in src/ reaches itself through its imports, not even through `import type`: a cycle
// means two modules are one unit in disguise (issue 16). Each cycle found is printed as its path.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = join(import.meta.dirname, "../src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : [],
  );
}

/** Each module's relative imports, `import type` and `export … from` included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files(SRC)) {
    const text = readFileSync(file, "utf8");
    const deps = [...text.matchAll(/\b(?:from|import)\s*"(\.{1,2}\/[^"]+)"/g)].map((m) =>
      resolve(dirname(file), m[1]!),
    );
    graph.set(file, deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, "open");
    path.push(n);
    for (const d of graph.get(n) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === "open") {
        found.push([...path.slice(path.indexOf(d)), d].map((f) => relative(SRC, f)).join(" -> "));
      } else if (!state.has(d)) visit(d);
    }
    path.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

test("the cycle finder sees a cycle, type-only included (so the next test can fail)", () => {
  const g = new Map([
    ["/a.ts", ["/b.ts"]],
    ["/b.ts", ["/a.ts"]],
  ]);
  assert.equal(cycles(g).length, 1);
});

test("no import cycle in src/, not even type-only", () => {
  assert.deepEqual(cycles(importGraph()), []);
});
