// A Unix datagram socket (like /dev/log) through the Python helper syslog-dgram.py, for both
// ends: the collector's `[[listen]] transport = "unix"` and `ship --syslog-socket`. Node cannot
// bind a Unix datagram socket, so the helper binds it and writes each datagram to its standard
// output as <kept: 4 BE><received: 4 BE><kept bytes> (docs/PROTOCOL.md, "The Unix datagram
// helper"). Reading the pipe is the backpressure: while the taker's promise is pending the pipe
// is not read, it fills, the helper blocks in write and stops receiving, the socket's queue
// fills and the senders wait. Every buffer is bounded: a frame's length is checked against the
// maximum before any of it is buffered, and a frame is held at most once (header, then body).

import { type ChildProcess, spawn } from "node:child_process";
import { FramingError } from "./framer.ts";

/** The helper script, found beside this module (and copied beside it into lib/ by build-lib). */
export const DGRAM_HELPER = new URL("./syslog-dgram.py", import.meta.url).pathname;
const HEADER = 8;
/** How long the helper may take to bind before it counts as failed. */
const READY_TIMEOUT_MS = 15_000;
/** What of the helper's standard error is kept (its ready line, an error, a traceback). */
const MAX_STDERR = 4096;

/** Why the helper could not bind: its codes, and `python` (it could not run) or `exited`. */
export type DgramRefusal = "notdir" | "symlink" | "notsocket" | "inuse" | "bind" | "python" | "exited";

export class DgramHelperError extends Error {
  readonly reason: DgramRefusal;
  constructor(reason: DgramRefusal, message: string) {
    super(message);
    this.name = "DgramHelperError";
    this.reason = reason;
  }
}

export interface UnixDatagramOptions {
  /** Absolute path of the socket. */
  path: string;
  /** The socket file's permission bits (0o666 like /dev/log). */
  mode: number;
  /** The most bytes kept of one datagram; a longer one is cut and its real length reported. */
  maxBytes: number;
  /** The Python interpreter (default `python3`, found on PATH). */
  python?: string;
}

/**
 * Takes one datagram: `kept` (cut to maxBytes) and the length it `received` (larger when it was
 * cut). A returned promise stops the reading until it settles.
 */
export type TakeDatagram = (kept: Buffer, received: number) => undefined | Promise<void>;

/** A bound socket: read its datagrams with `read`, end it with `stop`. */
export class UnixDatagramSocket {
  readonly path: string;
  /** The socket file's inode, as bound (for removing only our own socket). */
  readonly inode: number;
  /** Resolves when the helper has exited: its exit code or signal, or why it could not run. */
  readonly exited: Promise<string>;
  private readonly child: ChildProcess;
  private readonly maxBytes: number;
  private readonly stderr: { text: string };

  private constructor(
    path: string,
    inode: number,
    child: ChildProcess,
    maxBytes: number,
    exited: Promise<string>,
    stderr: { text: string },
  ) {
    this.stderr = stderr;
    this.path = path;
    this.inode = inode;
    this.child = child;
    this.maxBytes = maxBytes;
    this.exited = exited;
  }

  /** Starts the helper and resolves once the socket is bound; a DgramHelperError otherwise. */
  static start(o: UnixDatagramOptions): Promise<UnixDatagramSocket> {
    const child = spawn(
      o.python ?? "python3",
      [DGRAM_HELPER, o.path, o.mode.toString(8), String(o.maxBytes)],
      // stdin is a pipe never written: its end of file tells the helper that we are gone
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const exited = new Promise<string>((resolve) => {
      child.once("error", (err) => resolve(`cannot run ${o.python ?? "python3"}: ${err.message}`));
      child.once("exit", (code, signal) => resolve(signal ?? `exit ${code}`));
    });
    child.stdin!.on("error", () => {});
    const tail = { text: "" };
    return new Promise((resolve, reject) => {
      let bound = false;
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new DgramHelperError("exited", "the socket helper did not bind it in time"));
      }, READY_TIMEOUT_MS);
      const onErr = (d: Buffer) => {
        // bounded: the last MAX_STDERR characters (a traceback's last line says why it ended)
        tail.text = (tail.text + d.toString("utf8")).slice(-MAX_STDERR);
        const ready = bound ? null : /^ready (\d+)\n/m.exec(tail.text);
        if (ready) {
          bound = true;
          clearTimeout(timer);
          tail.text = tail.text.slice(ready.index + ready[0].length);
          resolve(new UnixDatagramSocket(o.path, Number(ready[1]), child, o.maxBytes, exited, tail));
        }
      };
      child.stderr!.on("data", onErr);
      void exited.then((how) => {
        clearTimeout(timer);
        const m = /^error (\w+) (.*)$/m.exec(tail.text);
        if (m) reject(new DgramHelperError(m[1] as DgramRefusal, m[2]!));
        else if (how.startsWith("cannot run")) reject(new DgramHelperError("python", how));
        else
          reject(
            new DgramHelperError("exited", `the socket helper ended (${how}) ${lastLine(tail.text)}`.trim()),
          );
      });
    });
  }

  /**
   * Hands each datagram to `take`, in order, until the helper ends; resolves then with how it
   * ended. A frame that breaks the format (kept over the maximum, or over received) ends the
   * helper: the pipe can no longer be trusted.
   */
  async read(take: TakeDatagram): Promise<string> {
    const reader = new FrameReader(this.maxBytes);
    try {
      for await (const chunk of this.child.stdout!) {
        const c = chunk as Buffer;
        for (let at = 0; at < c.length; ) {
          const got = reader.push(c, at);
          at = got.next;
          if (got.frame) {
            const wait = take(got.frame, got.received);
            if (wait) await wait;
          }
        }
      }
    } catch (err) {
      this.child.kill("SIGKILL");
      return `${(err as Error).message}`;
    }
    const how = await this.exited;
    const said = lastLine(this.stderr.text);
    return said ? `${how}: ${said}` : how;
  }

  /** Ends the helper (it removes its socket) and resolves once it has exited. */
  async stop(): Promise<void> {
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.slice(0, 200) ?? "";
}

/** Splits the helper's output into frames, holding at most one frame's bytes. */
export class FrameReader {
  private readonly max: number;
  private readonly head = Buffer.alloc(HEADER);
  private headFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private received = 0;

  constructor(maxBytes: number) {
    this.max = maxBytes;
  }

  /** Reads from `chunk` at `at`: the next offset, and a frame when one was completed. */
  push(chunk: Buffer, at: number): { next: number; frame: Buffer | null; received: number } {
    if (this.body === null) {
      // the whole frame in this chunk, header included: no copy
      if (this.headFill === 0 && chunk.length - at >= HEADER) {
        const kept = this.check(chunk.readUInt32BE(at), chunk.readUInt32BE(at + 4));
        if (chunk.length - at - HEADER >= kept) {
          const start = at + HEADER;
          return { next: start + kept, frame: chunk.subarray(start, start + kept), received: this.received };
        }
        this.body = Buffer.allocUnsafe(kept);
        this.bodyFill = chunk.copy(this.body, 0, at + HEADER);
        return { next: chunk.length, frame: null, received: 0 };
      }
      const n = chunk.copy(this.head, this.headFill, at, at + HEADER - this.headFill);
      this.headFill += n;
      if (this.headFill < HEADER) return { next: at + n, frame: null, received: 0 };
      this.headFill = 0;
      this.body = Buffer.allocUnsafe(this.check(this.head.readUInt32BE(0), this.head.readUInt32BE(4)));
      this.bodyFill = 0;
      at += n;
    }
    const n = chunk.copy(this.body, this.bodyFill, at, at + this.body.length - this.bodyFill);
    this.bodyFill += n;
    if (this.bodyFill < this.body.length) return { next: at + n, frame: null, received: 0 };
    const frame = this.body;
    this.body = null;
    return { next: at + n, frame, received: this.received };
  }

  /** A frame's lengths, checked before anything of it is buffered; returns the kept length. */
  private check(kept: number, received: number): number {
    if (kept > this.max || kept > received || (kept < this.max && kept !== received))
      throw new FramingError(
        `the socket helper sent a bad frame (kept ${kept} of ${received} bytes, at most ${this.max})`,
      );
    this.received = received;
    return kept;
  }
}
