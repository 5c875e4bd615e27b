// The channel `logward ship` sends an agent session over, and a forwarding collector too
// (src/output/logward.ts): a command (`--via "qrexec-client-vm logvm logward.Agent+app"`) with
// the agent protocol on its stdin and stdout, or a collector's local socket, relay-framed like
// `logward ingest`. Bytes go out; the collector's replies (welcome, acks, end) come back decoded.

import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { type CollectorReply, ReplyDecoder } from "../wire/agent.ts";
import { decodeEnd, encodeLocalHeader, FRAME_DATA, FrameDecoder, type RelayEnd } from "../wire/relay.ts";

const STDERR_LINE = 400;
const STDERR_LINES = 50;

/** A command's stderr as lines to `sink`, bounded: a chatty or hostile command cannot flood a log. */
function boundedLines(stream: Readable, sink: (line: string) => void): void {
  let partial = "";
  let lines = 0;
  const emit = (line: string) => {
    if (lines < STDERR_LINES) sink(line.length > STDERR_LINE ? `${line.slice(0, STDERR_LINE)}…` : line);
    else if (lines === STDERR_LINES) sink("(more stderr not shown)");
    lines++;
  };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!.slice(0, STDERR_LINE + 1);
    for (const p of parts) emit(p);
  });
  stream.on("end", () => {
    if (partial) emit(partial);
  });
}

/** A channel to the collector: bytes out, agent replies in. */
export interface Channel {
  write(buf: Buffer): boolean;
  /** Resolves when the channel can take more, or is gone. */
  drained(): Promise<void>;
  /** Half-close: the sender is done; the collector answers with its last ack and end. */
  end(): void;
  destroy(): void;
  readonly closed: Promise<string>;
}

/**
 * The Channel whose sending side is `out` (a command's stdin, a socket): once it is closing or
 * closed, writes are dropped (true: nothing to wait for); `drained` also resolves on close.
 */
export function channelOver(out: Writable, closed: Promise<string>, destroy: () => void): Channel {
  let gone = false;
  let ending = false;
  void closed.then(() => {
    gone = true;
  });
  return {
    write: (b) => gone || ending || out.write(b),
    drained: () =>
      gone
        ? Promise.resolve()
        : new Promise<void>((r) => {
            out.once("drain", r);
            void closed.then(() => r());
          }),
    end: () => {
      ending = true;
      out.end();
    },
    destroy,
    closed,
  };
}

/** How a command channel runs beyond its command line. */
export interface ViaOptions {
  /** Added to the command's environment (e.g. the stream a forwarding collector sends). */
  env?: Readonly<Record<string, string>>;
  /**
   * The command's stderr, one line at a time (each cut to 400 characters, at most 50 lines per
   * channel); without it, stderr is this process's own (what `logward ship` wants).
   */
  onStderr?: (line: string) => void;
}

export function viaChannel(
  command: string,
  onReply: (r: CollectorReply) => void,
  options: ViaOptions = {},
): Channel {
  // its own process group, so that ending the channel ends the whole command, not just sh
  const child: ChildProcess = spawn("sh", ["-c", command], {
    stdio: ["pipe", "pipe", options.onStderr ? "pipe" : "inherit"],
    detached: true,
    env: options.env ? { ...process.env, ...options.env } : process.env,
  });
  if (options.onStderr) boundedLines(child.stderr!, options.onStderr);
  const kill = () => {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      child.kill("SIGTERM");
    }
  };
  const decoder = new ReplyDecoder(onReply);
  const closed = new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(`cannot run '${command}': ${err.message}`));
    child.once("close", (code, signal) => resolve(`'${command}' exited (${code ?? signal})`));
  });
  child.stdin!.on("error", () => {});
  child.stdout!.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch {
      kill();
    }
  });
  return channelOver(child.stdin!, closed, kill);
}

export function socketChannel(path: string, stream: string, onReply: (r: CollectorReply) => void): Channel {
  const socket: Socket = connect({ path, allowHalfOpen: true });
  const replies = new ReplyDecoder(onReply);
  let end: RelayEnd | null = null;
  const frames = new FrameDecoder((type, payload) => {
    if (type === FRAME_DATA) replies.push(payload);
    else end = decodeEnd(payload);
  });
  const closed = new Promise<string>((resolve) => {
    socket.once("error", (err) => resolve(`cannot use ${path}: ${err.message}`));
    socket.once("close", () =>
      resolve(end ? `the collector ended the session: ${(end as RelayEnd).message}` : `${path} closed`),
    );
  });
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    try {
      frames.push(chunk);
    } catch {
      socket.destroy();
    }
  });
  socket.on("end", () => socket.end());
  socket.write(encodeLocalHeader("agent", stream));
  return channelOver(socket, closed, () => socket.destroy());
}
