// Background compression of sealed segments. One segment at a time, in frames of about
// `frameBytes` of text cut at line ends; each frame is an independent zstd frame (with a
// content checksum), so `zstdcat` reads the file as one text and a reader can decompress just
// the frames of a time window (the index lists where each frame starts).
//
// zlib's zstd runs on libuv's thread pool, so appends on the event loop never wait for it.
// Crash safety: frames go to N.log.zst.tmp, which is fsync'd and renamed to N.log.zst; the
// index is updated; only then is N.log removed. Recovery handles a stop between any two steps.
// A full disk at any step leaves the plain segment as it was (and no .zst beside it) and the
// segment is tried again after a backoff, so it is compressed once space returns.

import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { constants, zstdCompress } from "node:zlib";
import { fsyncDir, isOutOfSpace, openNoFollow, pwriteAll } from "./files.ts";
import { segmentName } from "./layout.ts";
import { LF, seqAt, timeAt } from "./record.ts";
import type { FrameMeta, SegmentMeta } from "./segment.ts";
import type { StreamWriter } from "./stream-writer.ts";

const compressAsync = promisify(zstdCompress);
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

interface Job {
  writer: StreamWriter;
  meta: SegmentMeta;
}

export class Compressor {
  private readonly queue: Job[] = [];
  private running: Promise<void> | null = null;
  private stopping = false;
  private readonly level: number;
  private readonly frameBytes: number;
  private readonly onError: (err: unknown) => void;
  /** Jobs that failed for lack of space, tried again after `retryMs` (doubling up to a minute). */
  private readonly waiting: Job[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = RETRY_FIRST_MS;

  constructor(level: number, frameBytes: number, onError: (err: unknown) => void) {
    this.level = level;
    this.frameBytes = frameBytes;
    this.onError = onError;
  }

  enqueue(writer: StreamWriter, meta: SegmentMeta): void {
    if (this.stopping) return;
    this.queue.push({ writer, meta });
    if (!this.running) this.running = this.drain();
  }

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Finishes nothing more: the current frame ends, the temporary file is removed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    this.waiting.length = 0;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.idle();
  }

  private async drain(): Promise<void> {
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        try {
          await this.compressOne(job);
          this.retryMs = RETRY_FIRST_MS;
        } catch (err) {
          this.onError(err);
          if (isOutOfSpace(err)) this.retryLater(job);
        }
      }
    } finally {
      this.running = null;
    }
  }

  /** A full disk: the plain segment stays (readers read it) and is compressed once there is room. */
  private retryLater(job: Job): void {
    if (this.stopping) return;
    this.waiting.push(job);
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      for (const j of this.waiting.splice(0)) this.enqueue(j.writer, j.meta);
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  private async compressOne({ writer, meta }: Job): Promise<void> {
    if (meta.compressed || !writer.sealed.includes(meta)) return;
    const dir = writer.dir;
    const src = join(dir, meta.file);
    const finalName = segmentName(meta.firstSeq, true);
    const tmp = join(dir, `${finalName}.tmp`);
    const frames: FrameMeta[] = [];
    const params = {
      params: {
        [constants.ZSTD_c_compressionLevel]: this.level,
        [constants.ZSTD_c_checksumFlag]: 1,
      },
    };
    const input = await openNoFollow(src);
    // created anew ("wx" after removing a leftover): a link planted at the .tmp is not followed
    await unlink(tmp).catch(() => {});
    const output = await open(tmp, "wx", 0o640).catch(async (err: unknown) => {
      await input.close();
      throw err;
    });
    let outSize = 0;
    let finished = false;
    try {
      let chunk = Buffer.allocUnsafe(this.frameBytes + 64 * 1024);
      let carry = 0; // bytes at the start of `chunk` left from the previous read
      let rawOffset = 0;
      let pos = 0;
      for (;;) {
        if (this.stopping) return;
        const { bytesRead } = await input.read(chunk, carry, chunk.length - carry, pos);
        pos += bytesRead;
        const have = carry + bytesRead;
        if (have === 0) break;
        // cut at the last line end within frameBytes if there is one, else at the last one read
        let cut = chunk.lastIndexOf(LF, Math.min(have, this.frameBytes) - 1) + 1;
        if (cut === 0) cut = chunk.lastIndexOf(LF, have - 1) + 1;
        if (cut === 0 && bytesRead === 0) cut = have; // unterminated tail (the writer never leaves one)
        if (cut === 0) {
          // one line longer than the buffer: grow it and read on
          const bigger = Buffer.allocUnsafe(chunk.length * 2);
          chunk.copy(bigger, 0, 0, have);
          chunk = bigger;
          carry = have;
          continue;
        }
        const frame = await compressAsync(chunk.subarray(0, cut), params);
        frames.push({ offset: outSize, rawOffset, firstSeq: seqAt(chunk, 0), firstTime: timeAt(chunk, 0) });
        await pwriteAll(output, frame, 0, frame.length, outSize);
        outSize += frame.length;
        rawOffset += cut;
        carry = have - cut;
        chunk.copy(chunk, 0, cut, have);
      }
      await output.datasync();
      finished = true;
    } finally {
      await input.close();
      await output.close();
      if (!finished) await unlink(tmp).catch(() => {});
    }
    await rename(tmp, join(dir, finalName));
    await fsyncDir(dir);
    let evicted = false;
    try {
      await writer.updateIndex((sealed) => {
        const k = sealed.indexOf(meta);
        if (k === -1) {
          evicted = true; // removed (quota, retention) while it was being compressed
          return;
        }
        sealed[k] = { ...meta, file: finalName, compressed: true, bytes: outSize, frames };
      });
    } catch (err) {
      // the index still names the plain file, which stays: the .zst would only take space
      // (recovery removes a .zst next to its .log, and the retry writes it again)
      await unlink(join(dir, finalName)).catch(() => {});
      throw err;
    }
    if (evicted) await unlink(join(dir, finalName)).catch(() => {});
    await unlink(src).catch((err: NodeJS.ErrnoException) => {
      if (!evicted || err.code !== "ENOENT") throw err;
    });
    await fsyncDir(dir);
  }
}
