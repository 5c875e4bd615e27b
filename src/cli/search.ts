import { LogwardError } from "../errors.ts";
import { globToRegExp } from "../policy/config.ts";
import { followStreams } from "../query/follow.ts";
import { type LineView, readRecords } from "../query/records.ts";
import { isDisplaySafe } from "../store/escape.ts";
import { listStreams, readStreamLines, type StreamRef, streamSegments, type Window } from "../store/read.ts";
import { LF, parseLine, TIME_LEN } from "../store/record.ts";
import { checkStoreFormat, wallClockUs } from "../store/store.ts";
import { parse } from "./args.ts";
import { exitQuietlyOnEpipe, Output } from "./output.ts";
import { Progress } from "./progress.ts";
import { warnDamaged } from "./show.ts";
import { storePath } from "./store-path.ts";
import { recordJson } from "./target.ts";
import { timeBound } from "./time.ts";

export const SEARCH_HELP = `Usage: logward search PATTERN [options]

Searches the records of every origin (or those named) across active and compressed segments,
and prints each hit as ORIGIN/STREAM and the stored line, in receive order per origin. The
pattern is matched against the payload as stored (escaped), i.e. what 'show' prints: an
escape sequence is found as \\x1b, a newline inside a record as \\n.

Options:
  --origin GLOB    only origins matching GLOB (* and ?), e.g. 'disp*'
  --stream GLOB    only streams matching GLOB
  --since T        records received at or after T (RFC 3339, a date, 'now', -15m, -2h, -1d)
  --until T        records received before T
  --fixed          PATTERN is a plain string (the default)
  --regex          PATTERN is a regular expression (JavaScript syntax)
  --ignore-case    match regardless of case
  --count          print the number of matching records per origin/stream, and the total
  --json           one JSON object per hit: origin, stream, time, seq, kind, ref, payload
  --follow, -f     after the hits so far, keep printing new ones as they are stored, also
                   from origins and streams that appear later (inotify, no polling)
  --store DIR      the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                   else ~/.local/share/logward)
  -h, --help       show this help
`;

/**
 * The lines of one stream whose payload holds `needle`, found with indexOf over whole blocks:
 * lines without it cost nothing but the scan. Each hit is a copy (blocks are reused).
 */
async function* fixedHits(root: string, ref: StreamRef, w: Window, needle: Buffer): AsyncGenerator<LineView> {
  for await (const block of readStreamLines(root, ref.origin, ref.stream, w)) {
    let at = block.indexOf(needle);
    while (at !== -1) {
      const start = block.lastIndexOf(LF, at) + 1;
      let end = block.indexOf(LF, at);
      if (end === -1) end = block.length;
      const p = parseLine(block, start, end);
      const inPayload = p ? block.indexOf(needle, p.payloadStart) : -1;
      if (inPayload !== -1 && inPayload + needle.length <= end) {
        const line = Buffer.from(block.subarray(start, end + 1));
        yield { ref, block: line, start: 0, end: line.length - 1 };
      }
      at = block.indexOf(needle, end + 1);
    }
  }
}

/** Several streams' hits in receive order (each stream's are already in order). */
async function* mergeByTime(sources: AsyncGenerator<LineView>[]): AsyncGenerator<LineView> {
  if (sources.length === 1) {
    yield* sources[0]!;
    return;
  }
  const heads: { src: AsyncGenerator<LineView>; v: LineView }[] = [];
  for (const src of sources) {
    const n = await src.next();
    if (!n.done) heads.push({ src, v: n.value });
  }
  while (heads.length > 0) {
    let best = 0;
    for (let k = 1; k < heads.length; k++) {
      const a = heads[k]!.v;
      const b = heads[best]!.v;
      if (a.block.compare(b.block, b.start, b.start + TIME_LEN, a.start, a.start + TIME_LEN) < 0) best = k;
    }
    const h = heads[best]!;
    yield h.v;
    const n = await h.src.next();
    if (n.done) heads.splice(best, 1);
    else h.v = n.value;
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
class ReadAhead implements AsyncIterable<LineView> {
  private readonly queue: LineView[] = [];
  private head = 0;
  private bytes = 0;
  private done = false;
  private error: unknown = null;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  constructor(source: AsyncGenerator<LineView>) {
    void this.run(source);
  }

  private async run(source: AsyncGenerator<LineView>): Promise<void> {
    try {
      for await (const v of source) {
        this.queue.push(v);
        this.bytes += v.end - v.start + 1;
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

  async *[Symbol.asyncIterator](): AsyncGenerator<LineView> {
    for (;;) {
      if (this.head < this.queue.length) {
        const v = this.queue[this.head]!;
        this.queue[this.head++] = undefined as unknown as LineView;
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        this.bytes -= v.end - v.start + 1;
        this.wake("producer");
        yield v;
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "search",
    args,
    {
      store: { type: "string" },
      origin: { type: "string" },
      stream: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      fixed: { type: "boolean" },
      regex: { type: "boolean" },
      "ignore-case": { type: "boolean" },
      count: { type: "boolean" },
      json: { type: "boolean" },
      follow: { type: "boolean", short: "f" },
    },
    { min: 1, max: 1 },
  );
  const pattern = positionals[0]!;
  if (values.fixed && values.regex)
    throw new LogwardError("LW_USAGE", "--fixed and --regex cannot be used together; pick one.");
  if (values.count && values.json)
    throw new LogwardError("LW_USAGE", "--count and --json cannot be used together; pick one.");
  if (pattern.length === 0)
    throw new LogwardError(
      "LW_USAGE",
      "The search pattern is empty; give a string or, with --regex, an expression.",
    );
  let re: RegExp | null = null;
  // a case-sensitive plain string is searched in the stored bytes directly (no per-line string)
  const needle = !values.regex && !values["ignore-case"] ? Buffer.from(pattern) : null;
  if (!needle) {
    try {
      re = new RegExp(values.regex ? pattern : escapeRegExp(pattern), `u${values["ignore-case"] ? "i" : ""}`);
    } catch (err) {
      throw new LogwardError(
        "LW_BAD_REGEX",
        `'${pattern}' is not a valid regular expression: ${(err as Error).message}.`,
      );
    }
  }
  for (const [opt, v] of [
    ["--origin", values.origin],
    ["--stream", values.stream],
  ] as const) {
    if (v !== undefined && !/^[A-Za-z0-9_.*?-]{1,64}$/.test(v)) {
      throw new LogwardError(
        "LW_USAGE",
        `${opt} must be a glob of letters, digits, '_', '.', '-', '*' and '?'.`,
      );
    }
  }
  const originRe = values.origin ? globToRegExp(values.origin) : null;
  const streamRe = values.stream ? globToRegExp(values.stream) : null;
  const now = wallClockUs()();
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const refs = (await listStreams(root)).filter(
    (r) => (!originRe || originRe.test(r.origin)) && (!streamRe || streamRe.test(r.stream)),
  );
  const byOrigin = new Map<string, StreamRef[]>();
  for (const r of refs) byOrigin.set(r.origin, [...(byOrigin.get(r.origin) ?? []), r]);

  const out = new Output();
  exitQuietlyOnEpipe();
  let total = 0;
  let damaged = 0;
  const counts = new Map<string, number>();
  if (values.count && needle) {
    // counting needs no order: every stream at once, so that decompression (on libuv's thread
    // pool) and scanning use both cores
    const perStream = await mapLimit(refs, STREAMS_AT_ONCE, async (r) => {
      let n = 0;
      for await (const _ of fixedHits(root, r, { since, until }, needle)) n++;
      return [`${r.origin}/${r.stream}`, n] as const;
    });
    for (const [key, n] of perStream) {
      if (n > 0) counts.set(key, n);
      total += n;
    }
    byOrigin.clear();
  }
  // plain strings: the next origins are searched ahead, in the background (their decompression
  // and scanning overlap with printing this one), each holding at most READ_AHEAD bytes of hits
  const ordered = [...byOrigin].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const ahead: ReadAhead[] = [];
  const startAhead = (k: number) => {
    const streams = ordered[k]?.[1];
    if (needle && streams && !ahead[k]) {
      ahead[k] = new ReadAhead(mergeByTime(streams.map((r) => fixedHits(root, r, { since, until }, needle))));
    }
  };
  /** One stored line: if it matches, count it or print it (escaped, or as JSON). */
  const onLine = (v: LineView): Promise<void> | undefined => {
    const { block, start, end } = v;
    const p = parseLine(block, start, end);
    if (!p) return undefined;
    if (needle) {
      const at = block.indexOf(needle, p.payloadStart);
      if (at === -1 || at + needle.length > p.payloadEnd) return undefined;
    } else if (!re!.test(block.toString("utf8", p.payloadStart, p.payloadEnd))) return undefined;
    total++;
    const key = `${v.ref.origin}/${v.ref.stream}`;
    if (values.count) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return undefined;
    }
    if (!isDisplaySafe(block, start, end)) {
      damaged++;
      return undefined; // a damaged line is reported, never printed as is
    }
    if (values.json) {
      return out.write(`${recordJson(v, p, block.toString("utf8", p.payloadStart, p.payloadEnd))}\n`);
    }
    out.write(`${key} `);
    return out.write(block, start, end + 1);
  };

  // --follow: where each stream ends now, so that following continues without a gap
  const lastAtStart = new Map<string, number>();
  if (values.follow) {
    for (const r of refs)
      lastAtStart.set(
        `${r.origin}/${r.stream}`,
        (await streamSegments(root, r.origin, r.stream)).at(-1)?.lastSeq ?? 0,
      );
  }

  const progress = new Progress("searching", ordered.length, (n) => `${n} origins`);
  for (const [k, [, streams]] of ordered.entries()) {
    progress.add(k === 0 ? 0 : 1);
    for (let j = k; j < k + ORIGINS_AHEAD; j++) startAhead(j);
    const lines = needle ? ahead[k]! : readRecords(root, streams, { since, until });
    delete ahead[k];
    for await (const v of lines) {
      const w = onLine(v);
      if (w) await w;
    }
  }
  progress.end();
  if (values.count) {
    for (const [key, n] of [...counts].sort()) out.write(`${key} ${n}\n`);
    out.write(`total ${total}\n`);
  }
  await out.flush();
  if (values.follow) {
    const controller = new AbortController();
    process.once("SIGINT", () => controller.abort());
    process.once("SIGTERM", () => controller.abort());
    const starts = refs.map((ref) => ({
      ref,
      nextSeq: (lastAtStart.get(`${ref.origin}/${ref.stream}`) ?? 0) + 1,
    }));
    await followStreams(
      root,
      starts,
      async (line) => {
        onLine(line);
        await out.flush();
      },
      controller.signal,
      (r) => (!originRe || originRe.test(r.origin)) && (!streamRe || streamRe.test(r.stream)),
    );
    await out.flush();
    warnDamaged(damaged);
    return 0;
  }
  warnDamaged(damaged);
  return total > 0 || values.count ? 0 : 1;
}
