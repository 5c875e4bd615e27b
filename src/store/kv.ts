// The key=value payload of the collector's own records (`!open`, `!close`, `!note` alerts, …;
// docs/FORMAT.md, "Collector records"): `key=value key="a JSON string"`. One encoder and one
// decoder, so that what the collector and the policy engine write is what `alerts` reads back.
//
// A value is written bare when it has no white space, '"' or '=', else as a JSON string (which
// escapes '"', '\' and control characters). Keys are lower-case letters and '_'. The codec works
// on strings: the payload is then written as UTF-8 and escaped like any payload (escape.ts).

/** A key=value value: bare when it has no space, quote or '=', else a JSON string. */
export function kvValue(v: string | number): string {
  const text = String(v);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** A duration or time in microseconds as a key=value value (`123us`). */
export function kvMicros(us: number): string {
  return `${us}us`;
}

/** `k=v k="quoted value"` from pairs in order; values are encoded with kvValue. */
export function encodeKeyValues(pairs: Iterable<readonly [string, string | number]>): string {
  const out: string[] = [];
  for (const [k, v] of pairs) out.push(`${k}=${kvValue(v)}`);
  return out.join(" ");
}

/** Parses `k=v k="quoted value"` text; unknown or malformed parts are skipped. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const re = /([a-z_]+)=("(?:[^"\\]|\\.)*"|[^\s]*)/g;
  for (const m of text.matchAll(re)) {
    const raw = m[2]!;
    try {
      out[m[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    } catch {
      out[m[1]!] = raw;
    }
  }
  return out;
}
