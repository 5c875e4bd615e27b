// Worker threads that read and scan streams for a plain string (scan-worker.ts), one per core,
// for searches over enough text to repay their start-up (about 30-50 ms each: they load the
// reader). On the main thread, zlib decompresses on libuv's pool but every byte is scanned on
// the one JavaScript thread; in the workers both happen on every core, and frames are
// decompressed synchronously, which costs about half the CPU of zlib's asynchronous path.
// A pool lives for one search: `close` ends its workers.

import { getCompileCacheDir } from "node:module";
import { availableParallelism } from "node:os";
import { isMainThread, Worker } from "node:worker_threads";
import { type ErrorCode, LogwardError } from "../errors.ts";
import { type DamagedRange, passOn } from "../store/damage.ts";
import { type StreamRef, streamSegments, type Window } from "../store/read.ts";
import { type ParsedLine, parseLine } from "../store/record.ts";
import type { ObjectRow } from "./objects.ts";
import type { LineView } from "./records.ts";
import { SCAN_WORKER } from "./scan-worker-code.ts";

/** A hit as search.ts's Hit (not imported: search.ts imports this module). */
interface ScanHit {
  v: LineView;
  p: ParsedLine;
}

/** One stream to scan. */
export interface ScanJob {
  type: "scan";
  id: number;
  root: string;
  ref: StreamRef;
  w: Window;
  needle: Uint8Array;
  /** Send only the number of hits, not their lines. */
  count: boolean;
  /** Collect the objects the stream announces. */
  objects: boolean;
}
export type ScanRequest = ScanJob | { type: "taken"; id: number; bytes: number };
export type ScanReply =
  | { id: number; type: "hits"; lines: Uint8Array }
  | { id: number; type: "done"; count: number; objects: ObjectRow[]; damaged: DamagedRange[] }
  | { id: number; type: "error"; code: string | null; message: string; damaged?: DamagedRange[] };

/** What a scan ends with. */
export interface ScanResult {
  count: number;
  objects: ObjectRow[];
}

/**
 * Searches over less stored text than `fromBytes` stay on the main thread (no worker start-up):
 * a setting, so that tests can use workers on a small store.
 */
export const scanSettings = { fromBytes: 64 * 1024 * 1024 };

/** Counters for tests and benchmarks: streams scanned in workers. */
export const scanStats = { jobs: 0 };

/**
 * A pool for a search of `refs` in `w` when the text to read is worth it (WORKERS_FROM_BYTES,
 * counted from the segment listings, cut to the window), else null; never on a machine of
 * one core (unless `fromBytes` is 0, as tests set it).
 */
export async function scanPoolFor(
  root: string,
  refs: readonly StreamRef[],
  w: Window,
): Promise<ScanPool | null> {
  const fromBytes = scanSettings.fromBytes;
  if (availableParallelism() < 2 && fromBytes > 0) return null;
  // serve under Node's permission model (LOGWARD_NODE_PERMISSION=1) may not start threads; and
  // a search already in a worker (the web UI's, bounded in time and heap) starts none of its own
  if (!isMainThread || (process.permission && !process.permission.has("worker"))) return null;
  // the listings cost about 1 ms of CPU a stream (20 streams: 21-36 ms, measured under load),
  // which the search then spends again; a listing that fails counts nothing here: the search
  // meets the error in its turn
  let bytes = 0;
  for (const r of refs) {
    const segs = await streamSegments(root, r.origin, r.stream, w.until).catch(() => []);
    for (const seg of segs) if (w.since === undefined || seg.lastTime >= w.since) bytes += seg.rawBytes;
    if (bytes >= fromBytes) return new ScanPool();
  }
  return null;
}

/**
 * From the sources, the worker's first code: plain JavaScript that turns on the compile cache
 * the main thread uses (bin/logward.js; a worker does not inherit it) before it loads the
 * TypeScript worker, so that two workers start in about 190 ms of CPU instead of 400-600
 * (Node's type stripper is a WebAssembly compiler set up per thread). From a start-up bundle
 * the worker is its own bundle, as text (scan-worker-code.ts).
 */
const START_WORKER = `
import { enableCompileCache } from "node:module";
import { workerData } from "node:worker_threads";
if (workerData.cache) enableCompileCache(workerData.cache);
await import(workerData.url);
`;

interface Pending {
  onReply: (m: ScanReply) => void;
}

export class ScanPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Streams each worker is scanning now: a new one goes to the least busy. */
  private readonly busy: number[] = [];

  constructor(size = Math.max(1, availableParallelism())) {
    for (let k = 0; k < size; k++) {
      const w = SCAN_WORKER.code
        ? new Worker(SCAN_WORKER.code, { eval: true })
        : new Worker(START_WORKER, {
            eval: true,
            workerData: { url: SCAN_WORKER.url, cache: getCompileCacheDir?.() ?? null },
          });
      // a search that is abandoned (EPIPE, an error) never keeps the process alive
      w.unref();
      w.on("message", (m: ScanReply) => this.pending.get(m.id)?.onReply(m));
      w.on("error", (err) => {
        for (const p of this.pending.values())
          p.onReply({ id: -1, type: "error", code: null, message: err.message });
      });
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  /**
   * The hits of one stream, in its order, with the scan's result once they are all out (the
   * generator's return value). `count` sends no lines, only the number.
   */
  async *scan(
    root: string,
    ref: StreamRef,
    w: Window,
    needle: Buffer,
    opts: { count: boolean; objects: boolean },
  ): AsyncGenerator<ScanHit, ScanResult> {
    const id = this.nextId++;
    const k = this.busy.indexOf(Math.min(...this.busy));
    const worker = this.workers[k]!;
    this.busy[k]!++;
    const queue: ScanReply[] = [];
    let wake: (() => void) | null = null;
    this.pending.set(id, {
      onReply: (m) => {
        queue.push(m);
        const f = wake;
        wake = null;
        f?.();
      },
    });
    scanStats.jobs++;
    const job: ScanJob = { type: "scan", id, root, ref, w, needle, ...opts };
    worker.postMessage(job);
    try {
      for (;;) {
        const m = queue.shift();
        if (!m) {
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        if (m.type !== "hits") for (const d of m.damaged ?? []) passOn(d);
        if (m.type === "error")
          throw m.code !== null
            ? new LogwardError(m.code as ErrorCode, m.message)
            : new Error(`A search worker failed: ${m.message}`);
        if (m.type === "done") return { count: m.count, objects: m.objects };
        const lines = Buffer.from(m.lines.buffer, m.lines.byteOffset, m.lines.byteLength);
        worker.postMessage({ type: "taken", id, bytes: lines.length } satisfies ScanRequest);
        // each line as the worker matched it; parsed again here (a hit line is short work)
        for (let s = 0; s < lines.length; ) {
          const e = lines.indexOf(0x0a, s);
          const line = lines.subarray(s, e + 1);
          const p = parseLine(line, 0, line.length - 1);
          if (p) yield { v: { ref, block: line, start: 0, end: line.length - 1 }, p };
          s = e + 1;
        }
      }
    } finally {
      this.pending.delete(id);
      this.busy[k]!--;
    }
  }

  /** Streams scanned at once: two a worker, so that one's reads overlap the other's work. */
  get streamsAtOnce(): number {
    return 2 * this.workers.length;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
