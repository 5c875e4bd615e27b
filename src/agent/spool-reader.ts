// Reads the spool's durable entries after a seq, as the agent frames that carry them, for one
// session. Reads whole segments in blocks from disk (recent ones are in the page cache), never
// holds more than one block, and waits for the next commit when it has caught up.

import { type FileHandle, open } from "node:fs/promises";
import { join } from "node:path";
import { encodeGap, encodeRecord } from "../wire/agent.ts";
import type { Spool } from "./spool.ts";
import {
  type Entry,
  entrySeq,
  gapRange,
  isRecordEntry,
  MAX_SPOOL_RECORD,
  parseEntries,
  recordData,
  recordSeq,
  T_GAP,
  T_UNTERMINATED,
} from "./spool-format.ts";

const BLOCK = MAX_SPOOL_RECORD + 64;

export class SpoolReader {
  private readonly spool: Spool;
  /** Everything up to this seq has been handed out (or was already stored). */
  private sent: number;
  private segName: string | null = null;
  private fh: FileHandle | null = null;
  private offset = 0;
  private readonly buf = Buffer.allocUnsafe(BLOCK);
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly unsubscribe: () => void;

  /** Sends U entries as R frames: the collector does not know U (older than agent U frames). */
  private readonly plain: boolean;

  constructor(spool: Spool, afterSeq: number, plain = false) {
    this.spool = spool;
    this.plain = plain;
    this.sent = afterSeq;
    this.unsubscribe = spool.onCommit(() => {
      const w = this.wake;
      this.wake = null;
      w?.();
    });
  }

  /** The highest seq handed out so far. */
  get position(): number {
    return this.sent;
  }

  /**
   * The next frames to send, about `maxBytes` of them; waits while there is nothing new.
   * Resolves null once closed.
   */
  async next(maxBytes = 1024 * 1024): Promise<Buffer[] | null> {
    for (;;) {
      if (this.closed) return null;
      if (this.spool.error) throw this.spool.error;
      const frames: Buffer[] = [];
      const head = this.spool.droppedHead;
      if (head && head.last > this.sent) {
        frames.push(
          encodeGap({
            seq: head.last,
            dropped: head.last - head.first + 1,
            firstUs: head.firstUs,
            lastUs: head.lastUs,
          }),
        );
        this.sent = head.last;
      }
      await this.readInto(frames, maxBytes);
      if (frames.length > 0) return frames;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  private async readInto(frames: Buffer[], maxBytes: number): Promise<void> {
    let bytes = 0;
    while (bytes < maxBytes) {
      const segs = this.spool.segmentList();
      let seg = this.segName ? segs.find((s) => s.name === this.segName) : undefined;
      if (!seg) {
        // start, or the segment was acknowledged or dropped: the first one with anything new
        await this.closeFile();
        seg = segs.find((s) => s.lastSeq > this.sent);
        if (!seg) return;
        this.segName = seg.name;
        this.offset = 0;
        try {
          this.fh = await open(join(this.spool.dir, seg.name), "r");
        } catch (err) {
          // acknowledged and removed while we were opening it: look again
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          this.segName = null;
          continue;
        }
      }
      if (this.offset >= seg.size) {
        if (segs.indexOf(seg) === segs.length - 1) return; // caught up with the active segment
        // on to the next one, found by seq after the await: acks remove segments from the
        // front of the live list meanwhile, so a position in it would skip one
        await this.closeFile();
        continue;
      }
      const want = Math.min(BLOCK, seg.size - this.offset);
      const { bytesRead } = await this.fh!.read(this.buf, 0, want, this.offset);
      const entries: Entry[] = [];
      const used = parseEntries(this.buf.subarray(0, bytesRead), this.offset, entries);
      if (used <= 0) throw new Error(`the spool segment ${seg.name} is damaged at offset ${this.offset}`);
      this.offset += used;
      for (const e of entries) {
        const seq = entrySeq(e);
        if (seq === 0 || seq <= this.sent) continue;
        const f = frameFor(e, this.plain)!;
        frames.push(f);
        bytes += f.length;
        this.sent = seq;
      }
    }
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    this.segName = null;
    await fh?.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    const w = this.wake;
    this.wake = null;
    w?.();
    await this.closeFile();
  }
}

/**
 * Encodes a spool entry as the agent frame that carries it (R, U or G); null for checkpoints.
 * `plain`: a U entry goes as R (for a collector that does not know U frames).
 */
export function frameFor(e: Entry, plain = false): Buffer | null {
  if (isRecordEntry(e)) return encodeRecord(recordSeq(e), recordData(e), e.type === T_UNTERMINATED && !plain);
  if (e.type === T_GAP) {
    const g = gapRange(e);
    return encodeGap({ seq: g.last, dropped: g.last - g.first + 1, firstUs: g.firstUs, lastUs: g.lastUs });
  }
  return null;
}
