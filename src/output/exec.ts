// `type = "exec"`: a plugin process, like audispd's, that gets every record on stdin as one JSON
// line (docs/PROTOCOL.md, "Exec output plugins"; docs/OUTPUTS.md):
//
//   {"origin":"vm1","stream":"syslog","seq":42,"time":"2026-11-24T09:16:19.123456Z","kind":".",
//    "payload":"escaped as stored","raw":"<base64 of the sender's bytes>"}     (+ "ref" if any)
//
// With `acks = true` the plugin answers `ack ORIGIN/STREAM SEQ` on stdout once it has durably
// handled every record of that stream up to SEQ; the cursor moves on each ack, so a restarted
// plugin gets exactly what it did not ack. Without acks a batch counts as delivered once the
// plugin has read HOLD_BYTES past it from the pipe, or HOLD_MS after it was written if the
// plugin still lives (so a plugin that dies gets again what it may not have handled yet: at
// least once), or when the plugin, at close, read its stdin to the end and exited with status 0.
//
// The plugin runs as `sh -c COMMAND` in its own process group, in /, with a small environment;
// when `serve` runs as root, as the configured `user` (default "nobody") and that user's group
// (libuv drops the supplementary groups), never as root. Its stderr goes to the collector's log,
// at most STDERR_LINE_BYTES a line and STDERR_LINES lines per STDERR_WINDOW_MS. When it exits
// (or is killed), every pending deliver() rejects and the runner starts it again with backoff.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { escapeText, unescapePayload } from "../store/escape.ts";
import { streamKey } from "./cursors.ts";
import type { Destination, DestinationFactory, DestinationHost, OutRecord } from "./destination.ts";

/** Without acks: what the plugin must have read past a batch, or how long it must live after it. */
export const HOLD_BYTES = 256 * 1024;
export const HOLD_MS = 2000;
const STDERR_LINE_BYTES = 1024;
const STDERR_LINES = 20;
const STDERR_WINDOW_MS = 10_000;
/** A stdout line longer than this is not an ack: the plugin is stopped as broken. */
const MAX_STDOUT_LINE = 4096;
/** close(): how long a plugin may take to exit after its stdin closed, then after SIGTERM. */
const EXIT_GRACE_MS = 5000;
const TERM_GRACE_MS = 2000;
const ACK_RE = /^ack ([A-Za-z0-9_.-]{1,64})\/([A-Za-z0-9_.-]{1,64}) (\d{1,16})$/;

/** One record as its JSON line (with the LF). */
export function execLine(r: OutRecord): string {
  const raw = unescapePayload(r.payload).toString("base64");
  const ref = r.ref === undefined ? "" : `,"ref":${JSON.stringify(r.ref)}`;
  return `{"origin":"${r.origin}","stream":"${r.stream}","seq":${r.seq},"time":"${r.time}","kind":${JSON.stringify(r.kind)}${ref},"payload":${JSON.stringify(r.payload.toString("utf8"))},"raw":"${raw}"}\n`;
}

interface Pending {
  /** acks: per stream, the last seq of the batch. */
  readonly needs: Map<string, number>;
  /** No acks: the byte offset of the batch's end on stdin; when its write completed. */
  readonly end: number;
  writtenAt: number;
  resolve(): void;
  reject(err: Error): void;
}

/** uid and gid of `user` (the plugin's identity when serve runs as root). */
function identity(user: string): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error("no number");
    if (uid === 0) throw new Error("it is root");
    return { uid, gid };
  } catch (err) {
    throw new Error(
      `the plugin's user ${JSON.stringify(user)} cannot be used (${(err as Error).message.split("\n")[0]})`,
    );
  }
}

class ExecDestination implements Destination {
  private readonly host: DestinationHost;
  private readonly acks: boolean;
  private readonly child: ChildProcess;
  private readonly pending: Pending[] = [];
  /** acks: per stream, the last seq sent and the last acked. */
  private readonly sent = new Map<string, number>();
  private readonly acked = new Map<string, number>();
  private queued = 0;
  private written = 0;
  private dead: Error | null = null;
  private readonly exited: Promise<void>;
  private exitCode: number | null = null;
  private closing = false;
  private holdTimer: NodeJS.Timeout | undefined;
  private stderrShown = 0;
  private stderrHidden = 0;
  private stderrWindow = 0;

  constructor(command: string, user: string, acks: boolean, name: string, host: DestinationHost) {
    this.host = host;
    this.acks = acks;
    const asRoot = process.getuid?.() === 0;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      LANG: process.env.LANG ?? "C.UTF-8",
      LOGWARD_OUTPUT: name,
      LOGWARD_ACKS: acks ? "1" : "0",
    };
    this.child = spawn("/bin/sh", ["-c", command], {
      cwd: "/",
      env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      ...(asRoot ? identity(user) : {}),
    });
    this.exited = new Promise((resolve) => {
      this.child.once("close", (code, signal) => {
        this.exitCode = code;
        this.die(
          new Error(`the plugin ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`),
        );
        resolve();
      });
    });
    this.child.once("error", (err) => this.die(new Error(`the plugin cannot be run: ${err.message}`)));
    this.child.stdin!.on("error", () => {}); // EPIPE: its exit says why
    this.lines(this.child.stdout!, MAX_STDOUT_LINE, (line) => this.onStdout(line));
    this.lines(this.child.stderr!, STDERR_LINE_BYTES, (line) => this.onStderr(line));
    if (!acks) this.holdTimer = setInterval(() => this.release(), 250);
  }

  deliver(batch: readonly OutRecord[]): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const text = batch.map(execLine).join("");
    const bytes = Buffer.from(text, "utf8");
    this.queued += bytes.length;
    const needs = new Map<string, number>();
    for (const r of batch) {
      const key = streamKey(r.origin, r.stream);
      needs.set(key, r.seq);
      this.sent.set(key, r.seq);
    }
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { needs, end: this.queued, writtenAt: 0, resolve, reject };
      this.pending.push(p);
      this.child.stdin!.write(bytes, (err) => {
        if (err) return;
        this.written = p.end;
        p.writtenAt = Date.now();
        this.release();
      });
    });
  }

  /** Resolves the oldest batches that count as delivered (in order). */
  private release(): void {
    if (this.dead) return;
    const now = Date.now();
    while (this.pending.length > 0) {
      const p = this.pending[0]!;
      const done = this.acks
        ? [...p.needs].every(([k, seq]) => (this.acked.get(k) ?? 0) >= seq)
        : p.writtenAt > 0 && (this.written - p.end >= HOLD_BYTES || now - p.writtenAt >= HOLD_MS);
      if (!done) return;
      this.pending.shift();
      p.resolve();
    }
  }

  private onStdout(line: string): void {
    if (!this.acks) return; // a plugin without acks may print what it likes: it is not read
    const m = ACK_RE.exec(line);
    if (!m) {
      this.host.log(`not an ack on the plugin's stdout, ignored: ${escapeText(line.slice(0, 200))}`);
      return;
    }
    const key = `${m[1]}/${m[2]}`;
    const seq = Number(m[3]);
    const sent = this.sent.get(key);
    if (sent === undefined || seq > sent) {
      this.host.log(`the plugin acked ${key} ${seq}, which it was not sent; it is stopped`);
      this.child.kill("SIGKILL");
      return;
    }
    if (seq <= (this.acked.get(key) ?? 0)) return;
    this.acked.set(key, seq);
    this.host.acknowledged(m[1]!, m[2]!, seq);
    this.release();
  }

  private onStderr(line: string): void {
    const now = Date.now();
    if (now - this.stderrWindow >= STDERR_WINDOW_MS) {
      if (this.stderrHidden > 0)
        this.host.log(`(${this.stderrHidden} more lines of the plugin's stderr not logged)`);
      this.stderrWindow = now;
      this.stderrShown = 0;
      this.stderrHidden = 0;
    }
    if (this.stderrShown++ < STDERR_LINES) this.host.log(`stderr: ${escapeText(line)}`);
    else this.stderrHidden++;
  }

  /** Splits a pipe into lines, each cut to `max` bytes (the rest of a long line is dropped). */
  private lines(stream: NodeJS.ReadableStream, max: number, each: (line: string) => void): void {
    let carry = Buffer.alloc(0);
    let cut = false;
    stream.on("data", (chunk: Buffer) => {
      let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10)) {
        if (!cut) each(data.subarray(0, Math.min(nl, max)).toString("utf8"));
        cut = false;
        data = data.subarray(nl + 1);
      }
      if (data.length > max) {
        if (!cut) each(`${data.subarray(0, max).toString("utf8")}…`);
        cut = true;
        data = Buffer.alloc(0);
      }
      carry = Buffer.from(data);
    });
  }

  private die(err: Error): void {
    clearInterval(this.holdTimer);
    if (this.dead) return;
    // dead while idle: the runner starts it again now (with backoff), not at the next record
    if (!this.closing) this.host.fail?.(err);
    // a plugin without acks that read its stdin to the end and exited 0 (close) handled it all
    const cleanEnd = this.closing && !this.acks && this.exitCode === 0;
    this.dead = err;
    for (const p of this.pending.splice(0)) {
      if (cleanEnd) p.resolve();
      else p.reject(err);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.child.stdin!.end();
    const pid = this.child.pid;
    const waitExit = (ms: number) =>
      Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
      ]);
    if (pid !== undefined && !(await waitExit(EXIT_GRACE_MS))) {
      killGroup(pid, "SIGTERM");
      if (!(await waitExit(TERM_GRACE_MS))) killGroup(pid, "SIGKILL");
      await waitExit(TERM_GRACE_MS);
    }
    this.die(new Error("the output was stopped"));
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export const createDestination: DestinationFactory = (config, host) =>
  new ExecDestination(
    config.command!,
    (config.options.user as string | undefined) ?? "nobody",
    config.options.acks === true,
    config.name,
    host,
  );
