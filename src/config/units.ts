// Sizes, durations and rates as people write them in the configuration ("64MiB", "14d",
// "2000/s"), and sizes as people read them in alerts and listings (formatBytes: "1.5 MiB").

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
const DURATIONS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86400_000 };

/** A whole number of bytes, or "<n>B|KiB|MiB|GiB|TiB"; null if it is neither. */
export function parseSize(v: unknown): number | null {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  const m = typeof v === "string" ? /^(\d+)\s*(B|KiB|MiB|GiB|TiB)$/.exec(v) : null;
  return m ? Number(m[1]) * UNITS[m[2]!]! : null;
}

/** "<n>s|m|h|d" in milliseconds; null otherwise. */
export function parseDuration(v: unknown): number | null {
  const m = typeof v === "string" ? /^(\d+)\s*(s|m|h|d)$/.exec(v) : null;
  return m ? Number(m[1]) * DURATIONS[m[2]!]! : null;
}

/** "<n>/s|m|h" as records per second; null otherwise. */
export function parseRate(v: unknown): number | null {
  const m = typeof v === "string" ? /^(\d+)\s*\/\s*(s|m|h)$/.exec(v) : null;
  if (!m || Number(m[1]) === 0) return null;
  return Number(m[1]) / ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2]!]!;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
