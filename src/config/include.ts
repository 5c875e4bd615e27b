// `include = "/etc/logward/conf.d/*.toml"`: drop-in files merged into the main file in name
// order, then checked like one file (load.ts), so a drop-in is refused for exactly what the main
// file would be. Arrays of tables ([[output]], [[listen]], [[policy]], ...) are appended in
// order; tables ([collector], [groups.NAME], [viewers], ...) are merged key by key, a later file
// overriding an earlier one (as systemd drop-ins do). Only the main file may `include`.
//
// The pattern is a directory and a file-name glob (* and ?); a relative pattern is taken from the
// main file's directory. A directory that does not exist holds no drop-ins (packages may name
// conf.d before anyone made it); one that cannot be read, or a drop-in that cannot be read or
// parsed, is a problem.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { RawOutput } from "./output.ts";

/** The keys allowed outside any section (docs/CONFIG.md, "Top level"). */
export const TOP_LEVEL_KEYS: readonly string[] = ["include"];

/** The main file's document with its drop-ins merged in, and the `[[output]]` tables with their files. */
export interface Merged {
  readonly doc: Record<string, unknown>;
  readonly outputs: readonly RawOutput[];
  /** The drop-in files read, in order. */
  readonly files: readonly string[];
}

/** Reads and merges the drop-ins `doc.include` names; problems are pushed, never thrown. */
export function mergeIncludes(doc: Record<string, unknown>, mainFile: string, problems: string[]): Merged {
  const { include, ...rest } = doc;
  const merged: Record<string, unknown> = {};
  const outputs: RawOutput[] = [];
  const files: string[] = [];
  mergeInto(merged, rest, outputs, mainFile);
  if (include === undefined) return { doc: merged, outputs, files };
  if (typeof include !== "string" || include.length === 0 || !include.endsWith(".toml")) {
    problems.push(
      `include must be a file glob ending in .toml, such as "/etc/logward/conf.d/*.toml", not ${JSON.stringify(include)}`,
    );
    return { doc: merged, outputs, files };
  }
  const pattern = isAbsolute(include) ? include : resolve(dirname(mainFile), include);
  const dir = dirname(pattern);
  const glob = basename(pattern);
  if (/[*?[\]]/.test(dir)) {
    problems.push(`include may have * and ? only in its file name, not in ${dir}`);
    return { doc: merged, outputs, files };
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== "ENOENT")
      problems.push(`include: the directory ${dir} cannot be read (${e.code ?? e.message})`);
    return { doc: merged, outputs, files };
  }
  const re = fileGlob(glob);
  for (const name of names.filter((n) => re.test(n) && !n.startsWith(".")).sort()) {
    const file = join(dir, name);
    let part: Record<string, unknown>;
    try {
      if (!statSync(file).isFile()) continue;
      part = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (err) {
      problems.push(`the drop-in ${file} cannot be read: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    files.push(file);
    if (part.include !== undefined) {
      problems.push(`the drop-in ${file} has include; only the main file may include others`);
      delete part.include;
    }
    mergeInto(merged, part, outputs, file);
  }
  return { doc: merged, outputs, files };
}

function mergeInto(
  into: Record<string, unknown>,
  part: Record<string, unknown>,
  outputs: RawOutput[],
  file: string,
): void {
  for (const [key, value] of Object.entries(part)) {
    if (key === "output" && Array.isArray(value)) {
      for (const table of value) outputs.push({ table, file });
      continue;
    }
    const have = into[key];
    if (Array.isArray(value) && Array.isArray(have)) into[key] = [...have, ...value];
    else if (isTable(value) && isTable(have)) {
      const both: Record<string, unknown> = { ...have };
      for (const [k, v] of Object.entries(value))
        both[k] = isTable(v) && isTable(both[k]) ? { ...(both[k] as object), ...v } : v;
      into[key] = both;
    } else into[key] = value;
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function fileGlob(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\-]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${body}$`);
}
