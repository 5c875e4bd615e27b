// Sources that are a byte stream split into lines: `--stdin`, `--command 'CMD'` (its standard
// output; restarted with backoff when it exits) and `--syslog-socket PATH` (datagrams, one record
// each). None of them can be replayed, so they have no position: what reached the spool is kept,
// what the process had not read yet when it died is still in the pipe or socket.
//
// `--syslog-socket`: Node cannot bind a Unix datagram socket, so a short Python helper binds it
// (src/wire/unix-datagrams.ts, shared with the collector's unix listener). RFC 3164
// and RFC 5424 datagrams are opaque records: their claimed host and program are data.

import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { RecordSink } from "../wire/framer.ts";
import { LineFramer } from "../wire/lines.ts";
import { UnixDatagramSocket } from "../wire/unix-datagrams.ts";
import { backoff, type Source, type SourceHost } from "./source.ts";
import { MAX_SPOOL_RECORD } from "./spool-format.ts";

/** Feeds a readable into the host through `push`, pausing while the spool is busy. */
async function pump(input: Readable, push: (chunk: Buffer) => void, host: SourceHost): Promise<void> {
  for await (const chunk of input) {
    push(chunk as Buffer);
    await host.whenWritable();
  }
}

function lineSink(host: SourceHost): RecordSink {
  return {
    records(buf, offsets, count) {
      for (let k = 0; k < count; k++) host.record(buf.subarray(offsets[2 * k]!, offsets[2 * k + 1]!));
    },
    truncated(kept) {
      host.record(kept);
      host.warn(`a line longer than ${MAX_SPOOL_RECORD} bytes was cut`);
    },
    unterminated(kept, fullLength) {
      host.record(kept, true);
      if (fullLength > kept.length) host.warn(`a line longer than ${MAX_SPOOL_RECORD} bytes was cut`);
    },
  };
}

export class StdinSource implements Source {
  readonly key = "stdin";
  private readonly host: SourceHost;

  constructor(host: SourceHost) {
    this.host = host;
  }

  async run(): Promise<void> {
    const framer = new LineFramer(MAX_SPOOL_RECORD, lineSink(this.host));
    await pump(process.stdin, (c) => framer.push(c), this.host);
    framer.end();
  }

  stop(): void {
    process.stdin.destroy();
  }
}

/** Runs `sh -c CMD` and takes its standard output; restarts it with backoff unless `once`. */
export class CommandSource implements Source {
  readonly key: string;
  private readonly host: SourceHost;
  private readonly command: string;
  private child: ChildProcess | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(command: string, host: SourceHost, key = "command") {
    this.command = command;
    this.host = host;
    this.key = key;
  }

  async run(once: boolean): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const started = Date.now();
      const code = await this.runOnce();
      if (once || this.stopped) return;
      if (Date.now() - started > 10_000) attempt = 0;
      const wait = backoff(attempt, 1000, 60_000);
      this.host.warn(`the command '${this.command}' exited (${code}); starting it again in ${wait} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, wait);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** One run of the command; its output becomes records. */
  protected async runOnce(): Promise<number | string | null> {
    const child = spawn("sh", ["-c", this.command], { stdio: ["ignore", "pipe", "inherit"] });
    this.child = child;
    const exited = new Promise<number | string | null>((r) => {
      child.once("error", (err) => r(err.message));
      child.once("close", (code, signal) => r(code ?? signal));
    });
    const framer = new LineFramer(MAX_SPOOL_RECORD, lineSink(this.host));
    await pump(child.stdout!, (c) => framer.push(c), this.host).catch(() => {});
    framer.end();
    const code = await exited;
    this.child = null;
    return code;
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill("SIGTERM");
    this.wake?.();
  }
}

/** The most bytes kept of one datagram; a longer one is cut (and a warning says so). */
const MAX_DATAGRAM = 256 * 1024;

/** `--syslog-socket PATH`: each datagram is one record (a trailing LF or NUL is not part of it). */
export class SyslogSource implements Source {
  readonly key = "syslog";
  private readonly host: SourceHost;
  private readonly path: string;
  private socket: UnixDatagramSocket | null = null;
  private stopped = false;

  constructor(path: string, host: SourceHost) {
    this.path = path;
    this.host = host;
  }

  async run(): Promise<void> {
    let socket: UnixDatagramSocket;
    try {
      socket = await UnixDatagramSocket.start({ path: this.path, mode: 0o666, maxBytes: MAX_DATAGRAM });
    } catch (err) {
      this.host.warn(`syslog socket ${this.path}: ${(err as Error).message}`);
      return;
    }
    this.socket = socket;
    if (this.stopped) void socket.stop();
    const how = await socket.read((kept, received) => {
      let end = kept.length;
      while (end > 0 && (kept[end - 1] === 0x0a || kept[end - 1] === 0x00)) end--;
      this.host.record(kept.subarray(0, end));
      if (received > kept.length)
        this.host.warn(`a datagram of ${received} bytes on ${this.path} was cut to ${MAX_DATAGRAM}`);
      return this.host.whenWritable();
    });
    if (!this.stopped) this.host.warn(`the syslog socket helper for ${this.path} ended (${how})`);
  }

  stop(): void {
    this.stopped = true;
    void this.socket?.stop();
  }
}
