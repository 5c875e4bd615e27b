// Writing stored lines for people: a buffered writer with backpressure, and the one way a
// stored line is printed (`show`, `open`, the web UI's "open in viewer"): the stored, escaped
// line (with the stream's name after the time when several are merged), the sender's raw
// bytes, or JSON. A stored line that is not display-safe (a damaged or edited file) is escaped
// again and counted, never passed on as it is.

import { ioError } from "../errors.ts";
import {
  ESCAPE_EXPANSION,
  escapeInto,
  escapePayload,
  isDisplaySafe,
  isPrintableLines,
  unescapePayload,
} from "../store/escape.ts";
import { LF, type ParsedLine, parseLine, seqAt } from "../store/record.ts";
import type { LineRun, LineView } from "./records.ts";
import { recordJson } from "./target.ts";

/** Buffered writing to a stream; bytes are copied in, because the blocks readers hand out are reused. */
const FLUSH_AT = 256 * 1024;

/** What Output writes to: process.stdout, a file's write stream, or StandardOutput. */
export interface OutputSink {
  write(chunk: Uint8Array): boolean;
  once(event: "drain" | "error", listener: () => void): unknown;
  off(event: "drain" | "error", listener: () => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  end(cb: () => void): unknown;
  readonly isTTY?: boolean;
}

/**
 * Standard output written with write(2) on descriptor 1, for as long as that works. Node's
 * process.stdout on a pipe is a net.Socket, and making it cost `show` about 10 M instructions
 * (3 ms) of a 55 ms run, the streams stack included. A descriptor that is non-blocking and full
 * (EAGAIN) hands over to process.stdout, which waits for the reader; a reader that went away
 * (EPIPE: `logward show | head`) ends the process quietly, as cli/output.ts does for
 * process.stdout.
 */
export class StandardOutput implements OutputSink {
  private stream: NodeJS.WriteStream | null = null;

  get isTTY(): boolean {
    return this.stream ? this.stream.isTTY === true : process.getBuiltinModule("node:tty").isatty(1);
  }

  write(chunk: Uint8Array): boolean {
    if (this.stream) return this.stream.write(chunk);
    const { writeSync } = process.getBuiltinModule("node:fs");
    let off = 0;
    while (off < chunk.length) {
      try {
        off += writeSync(1, chunk, off, chunk.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EPIPE") process.exit(0);
        if (code !== "EAGAIN") throw err;
        return this.handOver().write(chunk.subarray(off));
      }
    }
    return true;
  }

  private handOver(): NodeJS.WriteStream {
    this.stream = process.stdout;
    this.stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
    return this.stream;
  }

  // only asked for after a write returned false, which only process.stdout does
  once(event: "drain" | "error", listener: () => void): unknown {
    return (this.stream ?? this.handOver()).once(event, listener);
  }

  off(event: "drain" | "error", listener: () => void): unknown {
    return this.stream?.off(event, listener);
  }

  on(event: "error", listener: (err: Error) => void): unknown {
    return (this.stream ?? this.handOver()).on(event, listener);
  }

  end(cb: () => void): unknown {
    if (this.stream) return this.stream.end(cb);
    cb();
    return undefined;
  }
}

export class Output {
  private readonly stream: OutputSink;
  private readonly file: string | undefined;
  private failure: unknown = null;
  private buf = Buffer.allocUnsafe(FLUSH_AT * 2);
  private len = 0;

  /**
   * `file`: the path `stream` writes to. Its errors (a full disk) then fail the next write,
   * flush or end as LW_IO naming the file, instead of an unhandled 'error' event or a wait for
   * a drain that never comes. Standard output (the default, StandardOutput) ends the process
   * quietly when its reader goes away.
   */
  constructor(stream: OutputSink = new StandardOutput(), file?: string) {
    this.stream = stream;
    this.file = file;
    if (file !== undefined)
      stream.on("error", (err) => {
        this.failure ??= err;
      });
  }

  private check(): void {
    if (this.failure !== null) throw ioError("write", this.file ?? "the output", this.failure);
  }

  get isTTY(): boolean {
    return (this.stream as { isTTY?: boolean }).isTTY === true;
  }

  /** Queues text or bytes; returns a promise only when the pipe is slow and the buffer full. */
  write(part: string | Uint8Array, start = 0, end = part.length): Promise<void> | undefined {
    if (this.failure !== null) this.check();
    const need = typeof part === "string" ? Buffer.byteLength(part) : end - start;
    if (this.len + need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + need));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    if (typeof part === "string") this.len += this.buf.write(part, this.len);
    else {
      this.buf.set(part.subarray(start, end), this.len);
      this.len += need;
    }
    return this.len >= FLUSH_AT ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    this.check();
    if (this.len === 0) return;
    const chunk = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(FLUSH_AT * 2, this.buf.length));
    this.len = 0;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off("drain", done);
          this.stream.off("error", done);
          resolve();
        };
        this.stream.once("drain", done);
        if (this.file !== undefined) this.stream.once("error", done);
      });
      this.check();
    }
  }

  /** Flushes and ends a file's stream: resolves once all of it is written, else throws LW_IO. */
  async end(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve) => {
      this.stream.once("error", () => resolve());
      this.stream.end(() => resolve());
    });
    this.check();
  }
}

/** A record's payload for display: as stored when display-safe, else escaped again. */
export function displayPayload(block: Buffer, p: ParsedLine): { text: string; safe: boolean } {
  const safe = isDisplaySafe(block, p.payloadStart, p.payloadEnd);
  return {
    text: safe
      ? block.toString("utf8", p.payloadStart, p.payloadEnd)
      : escapePayload(block.subarray(p.payloadStart, p.payloadEnd)).toString("utf8"),
    safe,
  };
}

/**
 * A stored line (`block[start, end)`, without its LF) that is not display-safe, as `show`
 * prints it and `export` writes it: escaped again, LF added. Valid UTF-8, like every escape.
 */
export function escapedAgain(block: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe((end - start) * ESCAPE_EXPANSION + 1);
  const n = escapeInto(block, start, end, out, 0);
  out[n] = LF;
  return out.subarray(0, n + 1);
}

/**
 * How `show` (and `open`) prints one stored line: the stored, escaped line (with the stream's
 * name when several are merged), `--raw` payload bytes of the sender's records only, or JSON.
 * A stored line that is not display-safe (a damaged or edited file) is escaped again and
 * counted.
 */
export function lineEmitter(
  out: Output,
  mode: "text" | "raw" | "json",
  grep: RegExp | undefined,
  multi: boolean,
): {
  emit: (v: LineView) => Promise<void> | undefined;
  emitRun: (r: LineRun) => Promise<void>;
  seen: Map<string, number>;
  damaged: () => number;
} {
  let damaged = 0;
  const seen = new Map<string, number>();
  /** --raw: per stream, the seq of a record no LF followed (named by the `!nolf` before it). */
  const noLf = new Map<string, number>();
  const emit = (v: LineView): Promise<void> | undefined => {
    const { block, start, end } = v;
    const key = `${v.ref.origin}/${v.ref.stream}`;
    seen.set(key, seqAt(block, start));
    if (mode === "text" && !grep) {
      if (!isDisplaySafe(block, start, end)) {
        damaged++;
        return out.write(escapedAgain(block, start, end));
      }
      if (multi) {
        out.write(block, start, start + 27);
        out.write(` ${v.ref.stream}`);
        return out.write(block, start + 27, end + 1);
      }
      return out.write(block, start, end + 1);
    }
    const p = parseLine(block, start, end);
    if (!p) {
      damaged++;
      if (mode === "text") return out.write(escapedAgain(block, start, end));
      return undefined;
    }
    if (mode === "raw" && p.kind === "!nolf") {
      // it comes right before its record (same append, same receive time): remember the seq
      const seq = nolfSeq(block, p.payloadStart, p.payloadEnd);
      if (seq > 0) noLf.set(key, seq);
      return undefined;
    }
    const { text: payload, safe } = displayPayload(block, p);
    if (!safe) damaged++;
    if (grep && !grep.test(payload)) return undefined;
    if (mode === "raw") {
      // the sender's bytes only: the collector's records (open, close, gap, ...) are not theirs
      if (p.kind !== ".") return undefined;
      const last = noLf.get(key) === p.seq;
      if (last) noLf.delete(key);
      const wait = out.write(unescapePayload(block, p.payloadStart, p.payloadEnd));
      // the LF the sender sent; none after a record that no LF followed
      return last ? wait : out.write("\n");
    }
    if (mode === "json") {
      return out.write(`${recordJson(v, p, payload)}\n`);
    }
    if (!safe) return out.write(escapedAgain(block, start, end));
    if (multi) {
      out.write(block, start, start + 27);
      out.write(` ${v.ref.stream}`);
      return out.write(block, start + 27, end + 1);
    }
    return out.write(block, start, end + 1);
  };
  /** A run of lines: copied at once when the whole run is plain text, else line by line. */
  const emitRun = async (r: LineRun): Promise<void> => {
    const { block, start, end } = r;
    if (mode === "text" && !grep && !multi && isPrintableLines(block, start, end)) {
      seen.set(`${r.ref.origin}/${r.ref.stream}`, seqAt(block, block.lastIndexOf(LF, end - 2) + 1));
      return out.write(block, start, end);
    }
    for (let s = start; s < end; ) {
      const lf = block.indexOf(LF, s);
      const wait = emit({ ref: r.ref, block, start: s, end: lf });
      if (wait) await wait;
      s = lf + 1;
    }
  };
  return { emit, emitRun, seen, damaged: () => damaged };
}

/** The seq a `!nolf` payload names (`seq=N session=…`), or 0 when it is not one. */
function nolfSeq(block: Buffer, s: number, e: number): number {
  if (e - s < 5 || block.toString("latin1", s, s + 4) !== "seq=") return 0;
  let seq = 0;
  let i = s + 4;
  for (; i < e && i - s < 20 && block[i]! >= 0x30 && block[i]! <= 0x39; i++)
    seq = seq * 10 + block[i]! - 0x30;
  return i > s + 4 && (i === e || block[i] === 0x20) && Number.isSafeInteger(seq) ? seq : 0;
}

/** The warning for lines that had to be escaped again; nothing when there were none. */
