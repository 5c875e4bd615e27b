// The names of syslog severities and facilities, as `search --severity`/`--field facility=`
// and the web UI take them: RFC 5424 table 2 (severities) and table 1 (facilities), spelt as
// syslog(3) and logger(1) spell them, with the aliases those accept (panic, error, warn,
// security), and the numbers themselves. A value becomes the set of codes it stands for, so
// that a record is tested with one lookup.

import { LogwardError } from "../errors.ts";

/** Severity codes 0-7, most severe first (RFC 5424 table 2; names of syslog(3)). */
export const SEVERITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;
const SEVERITY_ALIASES: Record<string, number> = { panic: 0, error: 3, warn: 4 };

/**
 * Facility codes 0-23 (RFC 5424 table 1). 12-15 have no syslog(3) name; these are rsyslog's
 * and the BSDs' (ntp, audit, console, clock).
 */
export const FACILITIES = [
  "kern",
  "user",
  "mail",
  "daemon",
  "auth",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "ntp",
  "audit",
  "console",
  "clock",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
] as const;
const FACILITY_ALIASES: Record<string, number> = { security: 4 };

/** One severity by name or number, or -1. */
function severityCode(text: string): number {
  const t = text.toLowerCase();
  if (/^[0-7]$/.test(t)) return Number(t);
  const k = (SEVERITIES as readonly string[]).indexOf(t);
  return k !== -1 ? k : (SEVERITY_ALIASES[t] ?? -1);
}

/**
 * `err` (that one), `..err` (err or more severe: 0-3), `warning..` (warning or less severe:
 * 4-7), `crit..warning` or `2..4` (both ends included, in either order), as the set of codes.
 */
export function severitySet(option: string, value: string): Set<number> {
  const dots = value.indexOf("..");
  const lo = dots === -1 ? value : value.slice(0, dots);
  const hi = dots === -1 ? value : value.slice(dots + 2);
  const a = lo === "" && dots !== -1 ? 0 : severityCode(lo);
  const b = hi === "" && dots !== -1 ? 7 : severityCode(hi);
  if (a === -1 || b === -1 || (lo === "" && hi === ""))
    throw new LogwardError(
      "LW_USAGE",
      `${option} '${value}' is not a severity: give a name (${SEVERITIES.join(", ")}) or 0-7, or a range such as ..err (err or more severe), warning.. or crit..warning.`,
    );
  const set = new Set<number>();
  for (let s = Math.min(a, b); s <= Math.max(a, b); s++) set.add(s);
  return set;
}

/** `auth`, `4`, or a glob over the names (`local*`), as the set of codes. */
export function facilitySet(option: string, value: string, glob: RegExp | null): Set<number> {
  const t = value.toLowerCase();
  const set = new Set<number>();
  if (/^([0-9]|1[0-9]|2[0-3])$/.test(t)) set.add(Number(t));
  else if (glob) {
    for (const [code, name] of FACILITIES.entries()) if (glob.test(name)) set.add(code);
  } else {
    const k = (FACILITIES as readonly string[]).indexOf(t);
    const code = k !== -1 ? k : FACILITY_ALIASES[t];
    if (code !== undefined) set.add(code);
  }
  if (set.size === 0)
    throw new LogwardError(
      "LW_USAGE",
      `${option} '${value}' is not a facility: give a name (${FACILITIES.slice(0, 16).join(", ")}, local0 to local7, or a glob such as local*) or 0-23.`,
    );
  return set;
}
