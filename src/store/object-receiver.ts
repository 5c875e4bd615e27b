// One opaque object on its way in (`logward ingest --format blob`, objects.ts): the bytes go
// through SHA-256 and the zstd compressor into a temporary file in the stream's `objects/`.
// Apart from objects.ts, which makes a received object durable and announces it, because
// receiving is the streaming half (backpressure, compression, the temporary file) and needs of
// the stream's objects only what ReceiveTarget names.

import { createHash } from "node:crypto";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { constants, createZstdCompress, type ZstdCompress } from "node:zlib";
import { ioError, LogwardError } from "../errors.ts";
import { type BlobType, detectType, SNIFF_BYTES } from "./blob-type.ts";
import { pwriteAll } from "./files.ts";

/** What a receiver needs of its stream's objects (StreamObjects). */
export interface ReceiveTarget {
  /** Creates `objects/` (durably) the first time. */
  prepare(): Promise<void>;
  /** Compressed bytes of objects being received (they count in the quota as they grow). */
  receivingBytes: number;
}

export interface ReceivedObject {
  tmp: string;
  sha256: string;
  size: number;
  type: BlobType;
  stored: number;
}

/**
 * One object on its way in: bytes go through SHA-256 and the zstd compressor into the
 * temporary file. `write` says when to stop reading the sender (the compressor is full);
 * `whenReady` when to go on. Nothing is kept in memory but the first SNIFF_BYTES (for the type)
 * and the compressor's window.
 */
export class ObjectReceiver {
  size = 0;
  private readonly objects: ReceiveTarget;
  private fh: FileHandle | null = null;
  readonly tmp: string;
  private readonly hash = createHash("sha256");
  private readonly z: ZstdCompress;
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private stored = 0;
  private readonly written: Promise<void>;
  /** Set when writing the file failed (disk full, I/O error). */
  failure: Error | null = null;
  private aborted = false;

  constructor(objects: ReceiveTarget, tmp: string, onFailure: (err: Error) => void) {
    this.objects = objects;
    this.tmp = tmp;
    this.z = createZstdCompress({ params: { [constants.ZSTD_c_checksumFlag]: 1 } });
    this.z.on("error", () => {}); // reported through `failure`, onFailure and finish()
    this.written = this.pump();
    this.written.catch((err: Error) => {
      if (!this.aborted) onFailure(err);
    });
  }

  private async pump(): Promise<void> {
    try {
      await this.objects.prepare();
      this.fh = await open(this.tmp, "wx", 0o640);
      for await (const out of this.z as AsyncIterable<Buffer>) {
        await pwriteAll(this.fh, out, 0, out.length, this.stored);
        this.stored += out.length;
        this.objects.receivingBytes += out.length;
      }
    } catch (err) {
      this.failure = err instanceof LogwardError ? err : ioError("write", this.tmp, err);
      this.z.destroy();
      throw this.failure;
    }
  }

  /** Takes the next bytes; false: wait for whenReady() before the next write. */
  write(chunk: Buffer): boolean {
    if (this.failure || this.aborted) return true;
    this.size += chunk.length;
    this.hash.update(chunk);
    if (this.headBytes < SNIFF_BYTES) {
      const take = chunk.subarray(0, SNIFF_BYTES - this.headBytes);
      this.head.push(Buffer.from(take));
      this.headBytes += take.length;
    }
    return this.z.write(chunk);
  }

  /** True while the compressor holds as much as it should: stop reading the sender. */
  get full(): boolean {
    return this.z.writableNeedDrain && !this.failure && !this.aborted;
  }

  whenReady(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.z.off("drain", done);
        this.z.off("close", done);
        resolve();
      };
      this.z.on("drain", done);
      this.z.on("close", done);
    });
  }

  /** The sender is done: finishes and fsyncs the temporary file. */
  async finish(): Promise<ReceivedObject> {
    this.z.end();
    await this.written;
    const fh = this.fh!;
    this.fh = null;
    try {
      await fh.datasync();
    } catch (err) {
      throw ioError("sync", this.tmp, err);
    } finally {
      await fh.close();
    }
    return {
      tmp: this.tmp,
      sha256: this.hash.digest("hex"),
      size: this.size,
      type: detectType(Buffer.concat(this.head), this.size <= SNIFF_BYTES),
      stored: this.stored,
    };
  }

  /** Stores nothing: stops the compressor and removes the temporary file. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.z.destroy();
    await this.written.catch(() => {});
    this.objects.receivingBytes -= this.stored;
    this.stored = 0;
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}
