// Searching stored records (`logward search` and the web UI's /api/search): a plain string is
// found with indexOf over whole decompressed blocks, so a line without a hit costs only the
// scan; a regular expression is tried on each payload. Hits come in receive order per origin;
// the next origins are searched ahead while one is consumed. A syslog field filter
// (syslog-filter.ts) is tried only on lines that passed the pattern, and only when one is given.

import { LogwardError } from "../errors.ts";
import { markedLines, parseBlobPayload } from "../store/objects.ts";
import { readStreamLines, type StreamRef, type Window } from "../store/read.ts";
import { LF, type ParsedLine, parseLine, TIME_LEN } from "../store/record.ts";
import type { ObjectRow } from "./objects.ts";
import { type LineView, readRecords } from "./records.ts";
import { type ScanPool, scanPoolFor } from "./scan-pool.ts";
import { type SyslogFilter, syslogMatches } from "./syslog-filter.ts";

/** A matching stored line and its parse. */
export interface Hit {
  v: LineView;
  p: ParsedLine;
}

/**
 * What to look for: the bytes of a case-sensitive plain string, else a regular expression, else
 * (a field filter without a pattern) any payload; and the syslog fields a record must have.
 */
export interface Matcher {
  needle: Buffer | null;
  re: RegExp | null;
  fields?: SyslogFilter | null;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * PATTERN as a plain string (`regex` false) or a JavaScript regular expression. With a field
 * filter the pattern may be empty: then the filter's own needle (if any) narrows the scan.
 */
export function compileMatcher(
  pattern: string,
  opts: { regex?: boolean; ignoreCase?: boolean; fields?: SyslogFilter | null },
): Matcher {
  const fields = opts.fields ?? null;
  if (pattern.length === 0 && fields) return { needle: fields.needle, re: null, fields };
  if (pattern.length === 0)
    throw new LogwardError(
      "LW_USAGE",
      "The search pattern is empty; give a string or, with --regex, an expression.",
    );
  // a case-sensitive plain string is searched in the stored bytes directly (no per-line string)
  if (!opts.regex && !opts.ignoreCase) return { needle: Buffer.from(pattern), re: null, fields };
  try {
    return {
      needle: null,
      re: new RegExp(opts.regex ? pattern : escapeRegExp(pattern), `u${opts.ignoreCase ? "i" : ""}`),
      fields,
    };
  } catch (err) {
    throw new LogwardError(
      "LW_BAD_REGEX",
      `'${pattern}' is not a valid regular expression: ${(err as Error).message}.`,
    );
  }
}

/** The parsed line if its payload matches, else null. */
export function matchLine(v: LineView, m: Matcher): ParsedLine | null {
  const { block, start, end } = v;
  const p = parseLine(block, start, end);
  if (!p) return null;
  if (m.needle) {
    const at = block.indexOf(m.needle, p.payloadStart);
    if (at === -1 || at + m.needle.length > p.payloadEnd) return null;
  } else if (m.re && !m.re.test(block.toString("utf8", p.payloadStart, p.payloadEnd))) return null;
  return !m.fields || syslogMatches(m.fields, block, p) ? p : null;
}

/**
 * "!blob " rather than store/objects.ts's " !blob ": its first byte is rare in stored text, so
 * indexOf skips to it with memchr (5 ms over 34 MB against 36 ms, measured); the parse then
 * checks the kind.
 */
const BLOB_KIND = Buffer.from("!blob ");

/**
 * Adds to `into` the objects that the `!blob` records of `block` (whole lines of one stream,
 * within the window) announce, as listObjects reads them: for a search that scans the stream's
 * blocks anyway, so that its objects cost no second read of the stream.
 */
export function announcedInBlock(ref: StreamRef, block: Buffer, w: Window, into: ObjectRow[]): void {
  for (const p of markedLines(block, [BLOB_KIND])) {
    if (p.kind !== "!blob") continue;
    if ((w.since !== undefined && p.time < w.since) || (w.until !== undefined && p.time >= w.until)) continue;
    const b = parseBlobPayload(block.toString("latin1", p.payloadStart, p.payloadEnd));
    if (b) into.push({ origin: ref.origin, stream: ref.stream, time: p.time, seq: p.seq, ...b });
  }
}

/**
 * The lines of one stream whose payload holds `needle` (and passes `fields`), found with indexOf
 * over whole blocks: lines without it cost nothing but the scan. Each hit is a copy (blocks are
 * reused). With `objects`, the objects the stream announces are added to it in the same pass.
 */
export async function* fixedHits(
  root: string,
  ref: StreamRef,
  w: Window,
  needle: Buffer,
  fields: SyslogFilter | null,
  objects: ObjectRow[] | null = null,
): AsyncGenerator<Hit> {
  for await (const block of readStreamLines(root, ref.origin, ref.stream, w)) {
    if (objects) announcedInBlock(ref, block, w, objects);
    const hits: Hit[] = [];
    blockHits(block, needle, fields, (start, end, p) => {
      // the line as parsed here, its offsets moved to the copy: no second parse downstream
      const line = Buffer.from(block.subarray(start, end + 1));
      hits.push({
        v: { ref, block: line, start: 0, end: line.length - 1 },
        p: { ...p, payloadStart: p.payloadStart - start, payloadEnd: p.payloadEnd - start },
      });
    });
    yield* hits;
  }
}

/**
 * Calls `each` with the bounds (`end` is its LF) and parse of every line of `block` whose
 * payload holds `needle` and passes `fields`, in order: indexOf over the whole block, so lines
 * without it cost nothing but the scan.
 */
export function blockHits(
  block: Buffer,
  needle: Buffer,
  fields: SyslogFilter | null,
  each: (start: number, end: number, p: ParsedLine) => void,
): void {
  let at = block.indexOf(needle);
  while (at !== -1) {
    const start = block.lastIndexOf(LF, at) + 1;
    let end = block.indexOf(LF, at);
    if (end === -1) end = block.length;
    const p = parseLine(block, start, end);
    const inPayload = p ? block.indexOf(needle, p.payloadStart) : -1;
    if (
      p &&
      inPayload !== -1 &&
      inPayload + needle.length <= p.payloadEnd &&
      (!fields || syslogMatches(fields, block, p))
    )
      each(start, end, p);
    at = block.indexOf(needle, end + 1);
  }
}

/** Several streams' hits in receive order (each stream's are already in order). */
async function* mergeByTime(sources: AsyncGenerator<Hit>[]): AsyncGenerator<Hit> {
  if (sources.length === 1) {
    yield* sources[0]!;
    return;
  }
  const heads: { src: AsyncGenerator<Hit>; h: Hit }[] = [];
  for (const src of sources) {
    const n = await src.next();
    if (!n.done) heads.push({ src, h: n.value });
  }
  while (heads.length > 0) {
    let best = 0;
    for (let k = 1; k < heads.length; k++) {
      const a = heads[k]!.h.v;
      const b = heads[best]!.h.v;
      if (a.block.compare(b.block, b.start, b.start + TIME_LEN, a.start, a.start + TIME_LEN) < 0) best = k;
    }
    const head = heads[best]!;
    yield head.h;
    const n = await head.src.next();
    if (n.done) heads.splice(best, 1);
    else head.h = n.value;
  }
}

const ORIGINS_AHEAD = 4;
/** Streams counted at once: enough to keep both cores busy, each holding two frames in memory. */
const STREAMS_AT_ONCE = 4;

/** fn over items, at most `limit` at a time, results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      results[k] = await fn(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
const READ_AHEAD = 8 * 1024 * 1024;

/** Runs a generator ahead of its consumer, holding at most READ_AHEAD bytes of lines. */
class ReadAhead implements AsyncIterable<Hit> {
  private readonly queue: Hit[] = [];
  private head = 0;
  private bytes = 0;
  private done = false;
  private error: unknown = null;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  constructor(source: AsyncGenerator<Hit>) {
    void this.run(source);
  }

  private async run(source: AsyncGenerator<Hit>): Promise<void> {
    try {
      for await (const h of source) {
        this.queue.push(h);
        this.bytes += h.v.block.length;
        this.wake("consumer");
        while (this.bytes > READ_AHEAD) await new Promise<void>((r) => (this.wakeProducer = r));
      }
    } catch (err) {
      this.error = err;
    } finally {
      this.done = true;
      this.wake("consumer");
    }
  }

  private wake(who: "consumer" | "producer"): void {
    const w = who === "consumer" ? this.wakeConsumer : this.wakeProducer;
    if (who === "consumer") this.wakeConsumer = null;
    else this.wakeProducer = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Hit> {
    for (;;) {
      if (this.head < this.queue.length) {
        const h = this.queue[this.head]!;
        this.queue[this.head++] = undefined as unknown as Hit;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        this.bytes -= h.v.block.length;
        this.wake("producer");
        yield h;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((r) => (this.wakeConsumer = r));
    }
  }
}

/** fixedHits of one stream in a scan worker; its objects are added to `into` at the end. */
async function* pooledHits(
  pool: ScanPool,
  root: string,
  ref: StreamRef,
  w: Window,
  needle: Buffer,
  into: ObjectRow[] | null,
): AsyncGenerator<Hit> {
  const result = yield* pool.scan(root, ref, w, needle, { count: false, objects: into !== null });
  if (into) into.push(...result.objects);
}

/** Each stream's announced objects, as the search's one pass over it found them. */
export type Announced = Map<StreamRef, ObjectRow[]>;

/**
 * Every matching line of `refs`, origin by origin (sorted by name), in receive order within an
 * origin. For plain strings the next origins are searched ahead in the background. `onOrigin`
 * is told when an origin's turn begins (for progress); `afterOrigin` adds what follows an
 * origin's record hits (the hits inside its objects); for a plain string it is handed the
 * objects the streams announce, found in the same pass (else it must read them itself).
 */
export async function* searchRecords<T = never>(
  root: string,
  refs: readonly StreamRef[],
  w: Window,
  m: Matcher,
  onOrigin?: (k: number, of: number) => void,
  afterOrigin?: (streams: readonly StreamRef[], announced?: Announced) => AsyncIterable<T>,
): AsyncGenerator<Hit | T> {
  const byOrigin = new Map<string, StreamRef[]>();
  for (const r of refs) byOrigin.set(r.origin, [...(byOrigin.get(r.origin) ?? []), r]);
  const ordered = [...byOrigin].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const ahead: ReadAhead[] = [];
  const announced: Announced[] = [];
  const needle = m.needle;
  const fields = m.fields ?? null;
  // a field filter is not sent to workers: its searches stay on this thread
  const pool = needle && !fields ? await scanPoolFor(root, refs, w) : null;
  const startAhead = (k: number) => {
    const streams = ordered[k]?.[1];
    if (needle && streams && !ahead[k]) {
      const objects: Announced | null = afterOrigin ? new Map(streams.map((r) => [r, []])) : null;
      if (objects) announced[k] = objects;
      const scan = (r: StreamRef) =>
        pool
          ? pooledHits(pool, root, r, w, needle, objects?.get(r) ?? null)
          : fixedHits(root, r, w, needle, fields, objects?.get(r) ?? null);
      ahead[k] = new ReadAhead(mergeByTime(streams.map(scan)));
    }
  };
  try {
    yield* originByOrigin();
  } finally {
    await pool?.close();
  }

  async function* originByOrigin(): AsyncGenerator<Hit | T> {
    for (const [k, [, streams]] of ordered.entries()) {
      onOrigin?.(k, ordered.length);
      for (let j = k; j < k + ORIGINS_AHEAD; j++) startAhead(j);
      let objects: Announced | undefined;
      if (needle) {
        // fixedHits matched and parsed each of these already (and, once they are all out, has
        // found the streams' objects)
        const hits = ahead[k]!;
        delete ahead[k];
        yield* hits;
        objects = announced[k];
        delete announced[k];
      } else {
        for await (const v of readRecords(root, streams, w)) {
          const p = matchLine(v, m);
          if (p) yield { v, p };
        }
      }
      if (afterOrigin) yield* afterOrigin(streams, objects);
    }
  }
}

/**
 * Matching records per stream ("origin/stream" -> count), plain strings (and a field filter)
 * only; order does not matter. With `objects`, each stream's announced objects are put in it,
 * found in the same pass.
 */
export async function countFixed(
  root: string,
  refs: readonly StreamRef[],
  w: Window,
  needle: Buffer,
  fields: SyslogFilter | null = null,
  objects: Announced | null = null,
): Promise<Map<string, number>> {
  // a field filter is not sent to workers: its counts are made on this thread
  const pool = fields ? null : await scanPoolFor(root, refs, w);
  try {
    const perStream = await mapLimit(refs, pool?.streamsAtOnce ?? STREAMS_AT_ONCE, async (r) => {
      let n = 0;
      const mine: ObjectRow[] | null = objects ? [] : null;
      if (pool) {
        const scan = pool.scan(root, r, w, needle, { count: true, objects: mine !== null });
        let step = await scan.next();
        while (!step.done) step = await scan.next(); // count: no lines come, only the result
        n = step.value.count;
        mine?.push(...step.value.objects);
      } else for await (const _ of fixedHits(root, r, w, needle, fields, mine)) n++;
      if (mine) objects!.set(r, mine);
      return [`${r.origin}/${r.stream}`, n] as const;
    });
    return new Map(perStream);
  } finally {
    await pool?.close();
  }
}
