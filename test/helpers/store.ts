import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readRecords } from "../../src/query/records.ts";
import { unescapePayload } from "../../src/store/escape.ts";
import { parseLine } from "../../src/store/record.ts";

export interface ReadBack {
  seq: number;
  time: string;
  kind: string;
  ref: string | undefined;
  payload: Buffer;
}

/** Every record of one stream as the readers see it, payloads unescaped. */
export async function readAll(
  root: string,
  origin: string,
  stream: string,
  w: { since?: string; until?: string } = {},
): Promise<ReadBack[]> {
  const out: ReadBack[] = [];
  for await (const v of readRecords(root, [{ origin, stream }], w)) {
    const p = parseLine(v.block, v.start, v.end);
    if (!p) throw new Error(`unparsable line: ${v.block.toString("latin1", v.start, v.end)}`);
    out.push({
      seq: p.seq,
      time: p.time,
      kind: p.kind,
      ref: p.ref,
      payload: Buffer.from(unescapePayload(v.block, p.payloadStart, p.payloadEnd)),
    });
  }
  return out;
}

/** A clock that the test moves by hand. */
export function manualClock(startUs = 1_764_000_000_000_000) {
  let now = startUs;
  const clock = () => now;
  clock.set = (us: number) => {
    now = us;
  };
  clock.advance = (us: number) => {
    now += us;
  };
  return clock;
}

/** A stream's active (plain) segments, concatenated in order: the text grep would see. */
export function streamText(store: string, origin: string, stream: string): string {
  const dir = join(store, "origins", origin, stream);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("");
}
