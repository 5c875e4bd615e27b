// Filtering records on their syslog header (`search --field app=sshd --severity ..err`, the web
// UI's severity and app fields): each candidate record's payload is parsed at search time by
// wire's parser (src/wire/syslog-parse.ts, the one reading of a header the collector also
// uses), so nothing about a record is stored twice and old records can be filtered as well.
//
// Records are stored escaped (src/store/escape.ts), and escaping can change what the parser
// sees in the header: a `\"` inside an SD value is stored `\\"` (which would close the value
// early), a TAB in a TAG (which ends the TAG) is stored `\t` (which does not), a byte that is
// not UTF-8 in a HOSTNAME is stored as the four characters `\xff`. No bounded prefix holds
// the header (structured data has no length limit), so a payload with a backslash is unescaped
// whole before it is parsed; one without (nearly all) is its own raw form and is parsed in place.
// PRI, which gives facility and severity, is `<`, digits and `>` at the very start, never
// escaped: a filter on those alone reads the first five stored bytes and never unescapes.
//
// Cost: only a search with a field filter parses at all, and only records that passed the text
// pattern and the window. Without a text pattern, the longest exact value that must appear in
// the stored payload as it is (an app-name, an SD-ID…) is searched with indexOf over whole
// blocks, so only records holding it are parsed.

import { LogwardError } from "../errors.ts";
import { escapePayload, unescapePayload } from "../store/escape.ts";
import type { ParsedLine } from "../store/record.ts";
import { parseSyslog, type SyslogFields } from "../wire/syslog-parse.ts";
import { facilitySet, severitySet } from "./syslog-names.ts";

export const FIELD_KEYS = ["facility", "severity", "host", "app", "procid", "msgid", "sd"] as const;

/** One filter as the user gave it; `option` names it in messages (`--field`, `app`). */
export interface FieldSpec {
  option: string;
  key: string;
  value: string;
}

/** A compiled filter: every part must hold (AND). */
export interface SyslogFilter {
  facility: Set<number> | null;
  severity: Set<number> | null;
  /** Tests on the fully parsed header; empty when PRI alone decides. */
  tests: Array<(f: SyslogFields) => boolean>;
  /** Bytes every matching stored payload holds (no text pattern: searched with indexOf), or null. */
  needle: Buffer | null;
}

/** `<191>`: the longest PRI. */
const PRI_MAX = 5;
const BACKSLASH = 0x5c;

/** `KEY=VALUE` given to `option`, checked. */
export function fieldSpec(option: string, arg: string): FieldSpec {
  const eq = arg.indexOf("=");
  const key = arg.slice(0, Math.max(eq, 0));
  if (eq === -1 || !(FIELD_KEYS as readonly string[]).includes(key))
    throw new LogwardError(
      "LW_USAGE",
      `${option} '${arg}' is not KEY=VALUE with KEY one of ${FIELD_KEYS.join(", ")}.`,
    );
  return { option, key, value: arg.slice(eq + 1) };
}

/** The filter of `specs`, or null when there are none. */
export function compileSyslogFilter(specs: readonly FieldSpec[]): SyslogFilter | null {
  if (specs.length === 0) return null;
  const f: SyslogFilter = { facility: null, severity: null, tests: [], needle: null };
  let needle = "";
  const intersect = (a: Set<number> | null, b: Set<number>) =>
    a === null ? b : new Set([...a].filter((x) => b.has(x)));
  for (const s of specs) {
    const where = s.option.replace(/^-*/, "") === s.key ? s.option : `${s.option} ${s.key}`;
    if (s.value === "")
      throw new LogwardError("LW_USAGE", `${where} has no value; give one, e.g. ${example(s.key)}.`);
    if (s.key === "severity") f.severity = intersect(f.severity, severitySet(where, s.value));
    else if (s.key === "facility")
      f.facility = intersect(f.facility, facilitySet(where, s.value, globOrNull(s.value, true)));
    else if (s.key === "sd") {
      const t = sdTest(where, s.value);
      f.tests.push(t.test);
      for (const lit of t.literals) if (lit.length > needle.length) needle = lit;
    } else {
      const read = FIELD_READERS[s.key as keyof typeof FIELD_READERS];
      const ignoreCase = s.key === "host"; // DNS names know no case
      const match = valueTest(s.value, ignoreCase);
      f.tests.push((fields) => {
        const v = read(fields);
        return v !== null && match(v);
      });
      if (!ignoreCase && isLiteral(s.value) && s.value.length > needle.length) needle = s.value;
    }
  }
  f.needle = needle === "" ? null : Buffer.from(needle, "utf8");
  return f;
}

const FIELD_READERS = {
  host: (f: SyslogFields) => f.hostname,
  app: (f: SyslogFields) => f.appName,
  procid: (f: SyslogFields) => f.procId,
  msgid: (f: SyslogFields) => f.msgId,
};

function example(key: string): string {
  return key === "severity"
    ? "..err"
    : key === "facility"
      ? "facility=auth"
      : key === "sd"
        ? "sd=origin.ip=192.0.2.1"
        : `${key}=sshd`;
}

/** `ID` (an element with that SD-ID) or `ID.PARAM=VALUE` (split at the last dot before `=`). */
function sdTest(where: string, value: string): { test: (f: SyslogFields) => boolean; literals: string[] } {
  const eq = value.indexOf("=");
  const left = eq === -1 ? value : value.slice(0, eq);
  const dot = left.lastIndexOf(".");
  if (eq !== -1 && (dot <= 0 || dot === left.length - 1))
    throw new LogwardError(
      "LW_USAGE",
      `${where} '${value}' is neither an SD-ID nor SD-ID.PARAM=VALUE (e.g. sd=origin.ip=192.0.2.1).`,
    );
  const id = eq === -1 ? left : left.slice(0, dot);
  const idMatch = valueTest(id, false);
  const literals = isLiteral(id) ? [id] : [];
  if (eq === -1) return { test: (f) => f.structuredData?.some((e) => idMatch(e.id)) ?? false, literals };
  const param = left.slice(dot + 1);
  const want = value.slice(eq + 1);
  const valueMatch = valueTest(want, false);
  // a value holding " \ or ] is written escaped inside the SD, so it is no literal of the payload
  if (isLiteral(want) && !/["\\\]]/.test(want)) literals.push(want);
  return {
    test: (f) =>
      f.structuredData?.some(
        (e) => idMatch(e.id) && e.params.some(([n, v]) => n === param && valueMatch(v)),
      ) ?? false,
    literals,
  };
}

/** A value with `*` or `?` is a glob (any run, any one character); else it is compared exactly. */
function valueTest(value: string, ignoreCase: boolean): (s: string) => boolean {
  const glob = globOrNull(value, ignoreCase);
  if (glob) return (s) => glob.test(s);
  if (ignoreCase) {
    const lower = value.toLowerCase();
    return (s) => s.toLowerCase() === lower;
  }
  return (s) => s === value;
}

function globOrNull(value: string, ignoreCase: boolean): RegExp | null {
  if (!/[*?]/.test(value)) return null;
  const body = [...value]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`, ignoreCase ? "sui" : "su");
}

/** Stored exactly as typed: no glob, and nothing escaping would rewrite (or that was not UTF-8). */
function isLiteral(value: string): boolean {
  return !/[*?\uFFFD]/.test(value) && escapeField(value) === value;
}

/** Does the record (a stored line, parsed) pass the filter? Collector records (`!…`) never do. */
export function syslogMatches(f: SyslogFilter, block: Buffer, p: ParsedLine): boolean {
  if (p.kind !== ".") return false;
  if (f.facility !== null || f.severity !== null) {
    const pri = parseSyslog(block, p.payloadStart, Math.min(p.payloadEnd, p.payloadStart + PRI_MAX));
    if (f.facility !== null && (pri.facility === null || !f.facility.has(pri.facility))) return false;
    if (f.severity !== null && (pri.severity === null || !f.severity.has(pri.severity))) return false;
  }
  if (f.tests.length === 0) return true;
  const fields = recordFields(block, p);
  for (const t of f.tests) if (!t(fields)) return false;
  return true;
}

/** The syslog header of a stored record, read from its raw bytes (see the top of this module). */
export function recordFields(block: Buffer, p: ParsedLine): SyslogFields {
  const payload = block.subarray(p.payloadStart, p.payloadEnd);
  return payload.indexOf(BACKSLASH) === -1 ? parseSyslog(payload) : parseSyslog(unescapePayload(payload));
}

/**
 * The `syslog` object of `--json` (and the web UI's hits): names as the filter keys, codes as
 * numbers, strings escaped as the payload is (a byte that was not UTF-8 shows as U+FFFD).
 */
export function syslogJson(f: SyslogFields): Record<string, unknown> {
  return {
    header: f.header,
    facility: f.facility,
    severity: f.severity,
    timestamp: escapeOrNull(f.timestamp),
    host: escapeOrNull(f.hostname),
    app: escapeOrNull(f.appName),
    procid: escapeOrNull(f.procId),
    msgid: escapeOrNull(f.msgId),
    sd:
      f.structuredData?.map((e) => ({
        id: escapeField(e.id),
        params: e.params.map(([n, v]) => [escapeField(n), escapeField(v)]),
      })) ?? null,
  };
}

function escapeField(s: string): string {
  return /^[\x20-\x5b\x5d-\x7e]*$/.test(s) ? s : escapePayload(Buffer.from(s, "utf8")).toString("utf8");
}

function escapeOrNull(s: string | null): string | null {
  return s === null ? null : escapeField(s);
}
