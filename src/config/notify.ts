// The `[[notify]]` tables (issue 19's filter/notify plugin; src/output/notify.ts runs them):
// a rule chooses records by stream, and by a regular expression on the payload or a syslog
// severity, and runs a command with a one-line summary of each, rate limited. Read with the
// rest of the file (and its drop-ins), every problem one sentence naming the table and key.
//
//   [[notify]]
//   name = "disk"                  names the rule in alerts and its cursors; default notify-N
//   match = "vm1/syslog"           ORIGIN[/STREAM] globs, as [[output]] match; default "*"
//   pattern = "disk (full|error)"  a JavaScript regular expression on the payload as stored
//   severity = "..err"             and/or a syslog severity range (search --severity's forms)
//   command = "mail -s logward root"   run by sh; the summary on stdin
//   rate = "10/m"                  notifications per rule at most ("N/s", "N/m" or "N/min", "N/h")

import { GLOB_RE, isValidName } from "../store/names.ts";
import { isTable, tableArray } from "./tables.ts";
import type { NotifyConfig } from "./types.ts";

export const NOTIFY_KEYS: readonly string[] = ["name", "match", "pattern", "severity", "command", "rate"];

export const DEFAULT_NOTIFY_RATE = "10/m";

/**
 * One severity or a range of them (`err`, `3`, `..err`, `warning..`, `crit..warning`), as
 * query/syslog-names.ts reads them (which compiles it when the rule runs); the names are
 * repeated here because the configuration may not import the query code.
 */
const SEVERITY = "(?:emerg|panic|alert|crit|err|error|warning|warn|notice|info|debug|[0-7])";
const SEVERITY_RE = new RegExp(`^(?:${SEVERITY}|${SEVERITY}?\\.\\.${SEVERITY}?)$`, "i");

const PERIODS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** "N/s", "N/m", "N/min" or "N/h" as a count per period; null otherwise. */
export function parseNotifyRate(v: unknown): { count: number; periodMs: number } | null {
  const m = typeof v === "string" ? /^(\d{1,6})\s*\/\s*(s|m|min|h)$/.exec(v) : null;
  if (!m || Number(m[1]) === 0) return null;
  return { count: Number(m[1]), periodMs: PERIODS[m[2]!]! };
}

const isText = (v: unknown): v is string => typeof v === "string" && v.trim().length > 0;

/** Reads every `[[notify]]` table of a parsed document; problems are pushed to `problems`. */
export function parseNotify(doc: Record<string, unknown>, problems: string[]): readonly NotifyConfig[] {
  const raw = tableArray(doc, "notify", problems);
  if (raw === null) return Object.freeze([]);
  const out: NotifyConfig[] = [];
  const names = new Set<string>();
  raw.forEach((t: unknown, i: number) => {
    if (!isTable(t)) {
      problems.push(`notify #${i + 1} must be a table`);
      return;
    }
    const table = t;
    const name = table.name ?? `notify-${i + 1}`;
    const where = isText(name) && isValidName(name) ? `notify ${name}` : `notify #${i + 1}`;
    const before = problems.length;
    const bad = (key: string, want: string) =>
      problems.push(`${where}: ${key} must be ${want}, not ${JSON.stringify(table[key]) ?? "missing"}`);
    for (const k of Object.keys(table))
      if (!NOTIFY_KEYS.includes(k)) problems.push(`${where}: ${k} is not a known setting`);

    if (!isText(name) || !isValidName(name)) bad("name", "a name of 1 to 64 letters, digits, _ . -");
    else if (names.has(name)) problems.push(`${where}: name ${name} is used by another [[notify]]`);
    else names.add(name);
    const match = table.match ?? "*";
    if (!isText(match) || match.split("/").length > 2 || !match.split("/").every((p) => GLOB_RE.test(p)))
      bad("match", 'an origin glob, optionally ORIGIN/STREAM, such as "vm1" or "vm*/syslog"');
    const pattern = table.pattern ?? null;
    if (pattern !== null) {
      if (!isText(pattern)) bad("pattern", "a regular expression");
      else {
        try {
          new RegExp(pattern, "u");
        } catch (err) {
          problems.push(`${where}: pattern is not a valid regular expression: ${(err as Error).message}`);
        }
      }
    }
    const severity = table.severity ?? null;
    if (severity !== null && (!isText(severity) || !SEVERITY_RE.test(severity)))
      bad("severity", 'a syslog severity or range, such as "err", "..err" or "crit..warning"');
    if (pattern === null && severity === null)
      problems.push(`${where}: give pattern, severity or both (a rule that matches everything is an output)`);
    if (!isText(table.command)) bad("command", "a command line for sh (required)");
    const rate = parseNotifyRate(table.rate ?? DEFAULT_NOTIFY_RATE);
    if (!rate) bad("rate", 'notifications per period, such as "10/m" ("N/s", "N/m", "N/h")');

    if (problems.length > before) return;
    out.push(
      Object.freeze({
        name: name as string,
        match: match as string,
        pattern: pattern as string | null,
        severity: severity as string | null,
        command: table.command as string,
        rateCount: rate!.count,
        ratePeriodMs: rate!.periodMs,
      }),
    );
  });
  return Object.freeze(out);
}
