// --since/--until values: RFC 3339 times (with any offset, fraction optional), a date alone
// (midnight UTC), "now", or relative times such as -15m, -1h, -2d, -30s.

import { LogwardError } from "../errors.ts";
import { formatTime } from "../store/record.ts";

const RELATIVE_RE = /^-(\d+(?:\.\d+)?)(s|m|h|d|w)$/;
const UNIT_US: Record<string, number> = { s: 1e6, m: 60e6, h: 3600e6, d: 86400e6, w: 7 * 86400e6 };
const RFC3339_RE = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:\d\d)?)?$/;

/** Parses a time option to microseconds since the epoch. */
export function parseTimeOption(option: string, value: string, nowUs: number): number {
  if (value === "now") return nowUs;
  const rel = RELATIVE_RE.exec(value);
  if (rel) return nowUs - Math.round(Number(rel[1]) * UNIT_US[rel[2]!]!);
  const m = RFC3339_RE.exec(value);
  if (m) {
    const clock = m[2] ?? "00:00:00";
    const zone = m[4] === undefined || m[4] === "z" ? "Z" : m[4];
    const ms = Date.parse(`${m[1]}T${clock.length === 5 ? `${clock}:00` : clock}${zone}`);
    if (!Number.isNaN(ms)) {
      const frac = (m[3] ?? "").padEnd(6, "0").slice(0, 6);
      return ms * 1000 + Number(frac);
    }
  }
  throw new LogwardError(
    "LW_BAD_TIME",
    `${option} '${value}' is not a time; use RFC 3339 (2026-11-24T09:00:00Z), a date (2026-11-24), 'now', or a relative time such as -15m, -2h, -1d.`,
  );
}

/** The receive-time string a bound compares against. */
export function timeBound(option: string, value: string | undefined, nowUs: number): string | undefined {
  return value === undefined ? undefined : formatTime(parseTimeOption(option, value, nowUs));
}
