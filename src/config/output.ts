// The `[[output]]` tables (issue 19, docs/OUTPUTS.md): outputs that read the store and send it
// on. Read with the rest of the file (and its `include` drop-ins, load.ts), every problem one
// sentence naming the table and key ("output siem: command ..."), before anything starts.
//
//   [[output]]
//   name = "siem"          unique; names its durable cursors (<store>/run/outputs/<name>/)
//   type = "exec"          "exec", "logward", "syslog" or "nats"
//   match = "vm1"          origin glob, optionally ORIGIN/STREAM; default "*"
//   start = "oldest"       where it starts in a stream it has no cursor for: "oldest" or "newest"
//
// Each type adds its own keys: TYPE_KEYS lists them and TYPE_CHECKS reads them into
// OutputConfig.options under their TOML names (one entry per type, so that the types' owners
// each edit only their own lines).

import { GLOB_RE, isValidName } from "../store/names.ts";
import { checkLogwardOutput, LOGWARD_OUTPUT_KEYS } from "./output-logward.ts";
import {
  checkNatsOutput,
  checkSyslogOutput,
  NATS_OUTPUT_KEYS,
  SECRET_OUTPUT_KEYS,
  SYSLOG_OUTPUT_KEYS,
} from "./output-net.ts";
import type { OutputConfig, OutputStart, OutputType } from "./types.ts";

/** The keys every `[[output]]` table may have. */
export const OUTPUT_COMMON_KEYS: readonly string[] = ["name", "type", "match", "start"];

export const OUTPUT_TYPES: readonly OutputType[] = ["exec", "logward", "syslog", "nats"];

/** The keys each type adds (docs/CONFIG.md lists them all under [[output]]). */
export const TYPE_KEYS: Readonly<Record<OutputType, readonly string[]>> = {
  exec: ["command", "user", "acks"],
  logward: LOGWARD_OUTPUT_KEYS,
  syslog: SYSLOG_OUTPUT_KEYS,
  nats: NATS_OUTPUT_KEYS,
};

/** Every key an `[[output]]` table may have, in the order docs/CONFIG.md lists them. */
export const OUTPUT_KEYS: readonly string[] = [
  ...new Set([...OUTPUT_COMMON_KEYS, ...OUTPUT_TYPES.flatMap((t) => TYPE_KEYS[t])]),
];

/** The user an exec plugin runs as when `serve` runs as root (it never runs as root). */
export const DEFAULT_PLUGIN_USER = "nobody";

/** Reads one type's keys of `table`; pushes "KEY must be ..." problems; returns the options. */
type TypeCheck = (
  table: Readonly<Record<string, unknown>>,
  bad: (key: string, want: string) => void,
) => Record<string, unknown>;

const isText = (v: unknown): v is string => typeof v === "string" && v.trim().length > 0;

const TYPE_CHECKS: Readonly<Record<OutputType, TypeCheck>> = {
  exec: (table, bad) => {
    if (!isText(table.command)) bad("command", 'a command line for sh (required for type = "exec")');
    const user = table.user ?? DEFAULT_PLUGIN_USER;
    if (!isText(user) || !/^[a-z_][a-z0-9_.-]{0,31}\$?$/i.test(user) || user === "root")
      bad("user", 'a user name other than root, such as "nobody"');
    const acks = table.acks ?? false;
    if (typeof acks !== "boolean") bad("acks", "true or false");
    return { user, acks };
  },
  logward: checkLogwardOutput,
  syslog: checkSyslogOutput,
  nats: checkNatsOutput,
};

/** How an error names a table: by its name when it has a usable one, else by its place. */
export function outputWhere(index: number, name: unknown): string {
  return typeof name === "string" && isValidName(name) ? `output ${name}` : `output #${index + 1}`;
}

/** One `[[output]]` table from `file`, as TOML parsed it, with its place among all tables. */
export interface RawOutput {
  readonly table: unknown;
  readonly file: string;
}

/**
 * Reads every `[[output]]` table (the main file's, then each drop-in's in name order): problems
 * are pushed to `problems`, each naming the table (and the drop-in it came from).
 */
export function parseOutputs(
  raw: readonly RawOutput[],
  mainFile: string,
  problems: string[],
): readonly OutputConfig[] {
  const out: OutputConfig[] = [];
  const names = new Set<string>();
  raw.forEach(({ table: t, file }, i) => {
    const from = file === mainFile ? "" : ` (in ${file})`;
    if (typeof t !== "object" || t === null || Array.isArray(t)) {
      problems.push(`output #${i + 1}${from} must be a table`);
      return;
    }
    const table = t as Record<string, unknown>;
    const where = `${outputWhere(i, table.name)}${from}`;
    const before = problems.length;
    const bad = (key: string, want: string) =>
      problems.push(
        `${where}: ${key} must be ${want}, not ${
          // a password or token is not repeated in a message that goes to logs and terminals
          SECRET_OUTPUT_KEYS.includes(key) && table[key] !== undefined
            ? "what it is (not shown)"
            : (JSON.stringify(table[key]) ?? "missing")
        }`,
      );

    const name = table.name;
    if (!isText(name) || !isValidName(name)) bad("name", "a name of 1 to 64 letters, digits, _ . -");
    else if (names.has(name)) problems.push(`${where}: name ${name} is used by another [[output]]`);
    else names.add(name);
    const type = table.type as OutputType;
    const typeKnown = OUTPUT_TYPES.includes(type);
    if (!typeKnown) bad("type", '"exec", "logward", "syslog" or "nats"');
    for (const k of Object.keys(table)) {
      if (!OUTPUT_KEYS.includes(k)) problems.push(`${where}: ${k} is not a known setting`);
      else if (typeKnown && !OUTPUT_COMMON_KEYS.includes(k) && !TYPE_KEYS[type].includes(k))
        problems.push(`${where}: ${k} does not apply to type = "${type}"`);
    }
    const match = table.match ?? "*";
    if (!isText(match) || !isMatch(match))
      bad("match", 'an origin glob, optionally ORIGIN/STREAM, such as "vm1" or "vm*/syslog"');
    const start = (table.start ?? "oldest") as OutputStart;
    if (start !== "oldest" && start !== "newest") bad("start", '"oldest" or "newest"');
    const options = typeKnown ? TYPE_CHECKS[type](table, bad) : {};

    if (problems.length > before) return;
    out.push(
      Object.freeze({
        name: name as string,
        type,
        match: match as string,
        start,
        command: isText(table.command) ? table.command : null,
        options: Object.freeze(options),
        file,
      }),
    );
  });
  return Object.freeze(out);
}

/** "ORIGIN-GLOB" or "ORIGIN-GLOB/STREAM-GLOB". */
function isMatch(match: string): boolean {
  const parts = match.split("/");
  return parts.length <= 2 && parts.every((p) => GLOB_RE.test(p));
}
