// `show --follow`: prints records as the writer appends them, straight from the files, with
// no daemon and no busy polling. Each followed stream watches its directory with fs.watch
// (inotify); on an event it reads what was appended to the active segment. It continues by
// sequence number, so a record appended between the history and the live part is printed
// once. When the writer rotates, the old file is read to its end (the open descriptor stays
// valid even after the file is compressed and removed) and the follower moves to the next.

import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { READ_NOFOLLOW } from "../store/files.ts";
import { originsDir } from "../store/layout.ts";
import { streamDir } from "../store/names.ts";
import { listOrigins, listStreams, readSegmentLines, type StreamRef, streamSegments } from "../store/read.ts";
import { LF, seqAt } from "../store/record.ts";
import { seekLine } from "../store/seek.ts";
import type { FollowStart } from "./follow-from.ts";
import type { LineView } from "./records.ts";

/** A fallback check in case an inotify event was lost (queue overflow); not a polling loop. */
const SAFETY_CHECK_MS = 10_000;

class Follower {
  private readonly root: string;
  private readonly ref: StreamRef;
  private readonly dir: string;
  private nextSeq: number;
  private fh: FileHandle | null = null;
  private segFirstSeq = 0;
  private offset = 0;
  private carry: Buffer | null = null;
  private busy = false;
  private again = false;
  private readonly emit: (line: LineView) => Promise<void>;

  constructor(root: string, ref: StreamRef, nextSeq: number, emit: (line: LineView) => Promise<void>) {
    this.root = root;
    this.ref = ref;
    this.dir = streamDir(root, ref.origin, ref.stream);
    this.nextSeq = nextSeq;
    this.emit = emit;
  }

  get directory(): string {
    return this.dir;
  }

  /** Reads whatever is new; coalesces calls that arrive while it runs. */
  async check(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        await this.readNew();
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const segs = await streamSegments(this.root, this.ref.origin, this.ref.stream);
      // the segment that holds nextSeq, or the first one after it
      const seg = segs.findLast((s) => s.firstSeq <= this.nextSeq) ?? segs[0];
      if (!seg) return;
      const isLast = seg === segs.at(-1);
      if (seg.compressed || !isLast) {
        // sealed (perhaps compressed) before we got to it: read it whole, then go on
        await this.closeFile();
        for await (const block of readSegmentLines(this.dir, seg, {}))
          await this.emitBlock(Buffer.from(block));
        if (isLast) return;
        continue;
      }
      if (this.segFirstSeq !== seg.firstSeq || !this.fh) {
        await this.closeFile();
        if (!(await this.openSegment(seg.file, seg.firstSeq))) continue; // compressed meanwhile
      }
      await this.drainFile();
      const after = await streamSegments(this.root, this.ref.origin, this.ref.stream);
      if (after.at(-1)!.firstSeq === seg.firstSeq) return; // still the active one: wait for events
      await this.drainFile(); // what was written before the rotation
      await this.closeFile();
    }
  }

  private async openSegment(file: string, firstSeq: number): Promise<boolean> {
    try {
      this.fh = await open(join(this.dir, file), READ_NOFOLLOW); // never through a planted link
    } catch {
      return false;
    }
    this.segFirstSeq = firstSeq;
    const { size } = await this.fh.stat();
    const want = this.nextSeq;
    this.offset = await seekLine(this.fh, size, (probe, ls) => seqAt(probe, ls) < want);
    this.carry = null;
    return true;
  }

  private async closeFile(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
    this.carry = null;
  }

  /** Emits the lines of a block whose sequence numbers are new. */
  private async emitBlock(block: Buffer): Promise<void> {
    for (let s = 0; s < block.length; ) {
      const e = block.indexOf(LF, s);
      const seq = seqAt(block, s);
      if (seq >= this.nextSeq) {
        this.nextSeq = seq + 1;
        await this.emit({ ref: this.ref, block, start: s, end: e });
      }
      s = e + 1;
    }
  }

  private async drainFile(): Promise<void> {
    const fh = this.fh!;
    const chunk = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const data = this.carry
        ? Buffer.concat([this.carry, chunk.subarray(0, bytesRead)])
        : chunk.subarray(0, bytesRead);
      const lastLf = data.lastIndexOf(LF);
      this.carry = lastLf + 1 < data.length ? Buffer.from(data.subarray(lastLf + 1)) : null;
      if (lastLf !== -1) await this.emitBlock(Buffer.from(data.subarray(0, lastLf + 1)));
    }
  }

  async close(): Promise<void> {
    await this.closeFile();
  }
}

/**
 * Follows the streams until `signal` aborts. `starts` gives, per stream, the first sequence
 * number to print (follow-from.ts works it out). With `discover`, streams that appear later (a
 * new origin, a new stream of an origin) and that it accepts are followed too, from their first
 * record: the origins directory and every origin's directory are watched for that.
 */
export async function followStreams(
  root: string,
  starts: readonly FollowStart[],
  emit: (line: LineView) => Promise<void>,
  signal: AbortSignal,
  discover?: (ref: StreamRef) => boolean,
): Promise<void> {
  const followers = new Map<string, Follower>();
  const watchers = new Map<string, FSWatcher>();
  let failure: unknown = null;
  const run = (f: Follower) =>
    f.check().catch((err) => {
      failure = err;
    });
  let stopped = false;
  const watchDir = (dir: string, onEvent: () => void): boolean => {
    // a scan still running when the follow stops must not leave a watcher holding the process
    if (stopped || watchers.has(dir)) return true;
    try {
      watchers.set(dir, watch(dir, { persistent: true }, onEvent));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false; // removed meanwhile
      throw err;
    }
  };
  const follow = async (ref: StreamRef, nextSeq: number) => {
    const key = `${ref.origin}/${ref.stream}`;
    if (stopped || followers.has(key)) return;
    const f = new Follower(root, ref, nextSeq, emit);
    followers.set(key, f);
    watchDir(f.directory, () => void run(f));
    await run(f);
  };
  const onScanEvent = () =>
    void scan().catch((err) => {
      failure = err;
    });
  let scanning = false;
  let scanAgain = false;
  /** Looks for streams that appeared since the last look; coalesces events that arrive meanwhile. */
  const scan = async (): Promise<void> => {
    if (!discover) return;
    if (scanning) {
      scanAgain = true;
      return;
    }
    scanning = true;
    try {
      do {
        scanAgain = false;
        // an origin directory appears before its first stream's: watch it for that one
        for (const origin of await listOrigins(root)) watchDir(streamDir(root, origin), onScanEvent);
        for (const ref of await listStreams(root)) if (discover(ref)) await follow(ref, 1);
      } while (scanAgain);
    } finally {
      scanning = false;
    }
  };
  if (discover) watchDir(originsDir(root), onScanEvent);
  for (const s of starts) await follow(s.ref, s.nextSeq);
  await scan();
  const safety = setInterval(() => {
    for (const f of followers.values()) void run(f);
    onScanEvent();
  }, SAFETY_CHECK_MS);
  try {
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    stopped = true;
    clearInterval(safety);
    for (const w of watchers.values()) w.close();
    for (const f of followers.values()) await f.close();
  }
  if (failure) throw failure;
}
