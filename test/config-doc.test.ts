// docs/CONFIG.md documents exactly the configuration the parser knows: every section and every
// key of CONFIG_KEYS (the lists the parser rejects unknown keys with), nothing missing and
// nothing extra. A key added to the parser without a line in the reference fails here.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { TOP_LEVEL_KEYS } from "../src/config/include.ts";
import { CONFIG_KEYS, loadConfig } from "../src/config/load.ts";
import { tempDir } from "./helpers/tmp.ts";

const DOC = join(import.meta.dirname, "../docs/CONFIG.md");

/** Section -> keys, from "## `[name]`" headings and the "| `key` |" rows of their tables. */
function documented(): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of readFileSync(DOC, "utf8").split("\n")) {
    if (line.startsWith("## ")) {
      // [collector], [[policy]], [groups.NAME]
      const m = /^## `\[\[?([a-z_]+)(?:\.NAME)?\]\]?`$/.exec(line);
      current = null;
      if (m) {
        assert.ok(!sections.has(m[1]!), `section ${m[1]} documented twice`);
        current = [];
        sections.set(m[1]!, current);
      }
      continue;
    }
    const row = /^\| `([^`]+)` \|/.exec(line);
    if (row && current) current.push(row[1]!);
  }
  return sections;
}

test("docs/CONFIG.md documents every section and key the parser knows, and no other", () => {
  const doc = documented();
  assert.deepEqual([...doc.keys()].sort(), Object.keys(CONFIG_KEYS).sort(), "sections");
  for (const [section, keys] of Object.entries(CONFIG_KEYS)) {
    assert.deepEqual([...doc.get(section)!].sort(), [...keys].sort(), `keys of [${section}]`);
  }
});

test("CONFIG_KEYS is what loadConfig reads: each listed key is known, another is not", () => {
  const file = join(tempDir(), "logward.toml");
  // the TOML table header for a section, and how the parser names an unknown key in it
  const tables: Record<string, [string, (k: string) => string]> = {
    policy: ['[[policy]]\nmatch = "*"', (k) => `policy #1: ${k} is not a known setting`],
    groups: ["[groups.g]", (k) => `groups.g.${k} is not a known setting`],
    listen: ['[[listen]]\ntransport = "tcp"', (k) => `listen #1: ${k} is not a known setting`],
    output: ['[[output]]\nname = "o"\ntype = "exec"', (k) => `output o: ${k} is not a known setting`],
    notify: ["[[notify]]", (k) => `notify notify-1: ${k} is not a known setting`],
  };
  for (const [section, keys] of Object.entries(CONFIG_KEYS)) {
    if (section === "viewers") continue; // TYPE stands for any stream type name
    const [header, unknown] = tables[section] ?? [
      `[${section}]`,
      (k: string) => `${section}.${k} is not a known setting`,
    ];
    const problems = (body: string): string => {
      writeFileSync(file, `${header}\n${body}\n`);
      try {
        loadConfig("/store", file);
        return "";
      } catch (err) {
        return (err as Error).message;
      }
    };
    for (const key of keys) assert.ok(!problems(`${key} = []`).includes(unknown(key)), `${section}.${key}`);
    assert.ok(problems("not_a_key = 1").includes(unknown("not_a_key")), `[${section}] refuses others`);
  }
});

test("docs/CONFIG.md's Top level section documents exactly the keys outside any section", () => {
  const text = readFileSync(DOC, "utf8");
  const section = text.split("\n## Top level\n")[1]?.split("\n## ")[0] ?? "";
  const keys = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual(keys.sort(), [...TOP_LEVEL_KEYS].sort());
  const file = join(tempDir(), "logward.toml");
  writeFileSync(file, "not_a_key = 1\n");
  assert.throws(() => loadConfig("/store", file), /\[not_a_key\] is not a known section/);
});
