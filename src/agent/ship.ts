// `logward ship`: sources -> durable spool -> one agent session at a time -> the collector.
//
// A session: hello (stream, spool id) -> the collector's welcome names the last seq of this
// spool it holds durably -> everything after it is sent from the spool, in order, with the
// channel's backpressure -> acks let the spool drop what is durable on the other side. When the
// channel breaks, reconnect with exponential backoff and jitter and start again from the new
// welcome: nothing lost (the spool keeps everything unacknowledged), nothing twice (the
// collector skips seqs it has).
//
// Channels: `--via CMD` runs CMD (`qrexec-client-vm logvm logward.Agent+app`) with the agent
// protocol on its stdin/stdout; `--connect unix:PATH` is a collector's local socket
// (`[[collector.local]]` in its config), relay-framed like `logward ingest`.

import { mkdirSync } from "node:fs";
import { LogwardError } from "../errors.ts";
import { acquireStoreLock, type StoreLock } from "../store/lock.ts";
import { type AgentEnd, type CollectorReply, encodeHello } from "../wire/agent.ts";
import { type Channel, socketChannel, viaChannel } from "./channel.ts";
import { FileSource } from "./file-source.ts";
import { JournalSource } from "./journal-source.ts";
import { backoff, type Source, type SourceHost } from "./source.ts";
import { type OverflowPolicy, Spool } from "./spool.ts";
import { SpoolReader } from "./spool-reader.ts";
import { CommandSource, StdinSource, SyslogSource } from "./stream-sources.ts";

export interface ShipOptions {
  stream: string;
  spoolDir: string;
  spoolMax: number;
  policy: OverflowPolicy;
  via?: string;
  /** A Unix socket path (from `--connect unix:PATH`). */
  socket?: string;
  once: boolean;
  retryMaxMs: number;
  files: string[];
  journal: boolean;
  journalctl?: string;
  syslogSocket?: string;
  stdin: boolean;
  commands: string[];
  warn: (message: string) => void;
}

export class Shipper {
  private readonly o: ShipOptions;
  private spool!: Spool;
  private lock!: StoreLock;
  private readonly sources: Source[] = [];
  private stopping = false;
  /** With --once: the last seq that must be acknowledged before exiting. */
  private target: number | null = null;
  private channel: Channel | null = null;
  private wakeRetry: (() => void) | null = null;

  constructor(options: ShipOptions) {
    this.o = options;
  }

  get spoolStats() {
    return this.spool.stats;
  }

  async run(): Promise<number> {
    try {
      mkdirSync(this.o.spoolDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new LogwardError(
        "LW_IO",
        `Cannot create the spool directory ${this.o.spoolDir}: ${(err as Error).message}.`,
      );
    }
    this.lock = acquireStoreLock(this.o.spoolDir, this.o.spoolDir, "spool");
    try {
      this.spool = await Spool.open(this.o.spoolDir, { maxBytes: this.o.spoolMax, policy: this.o.policy });
      const sourcesDone = this.startSources();
      // with --once, or after SIGTERM: once the sources are done, everything spooled is the goal
      void sourcesDone.then(async () => {
        if (!this.o.once && !this.stopping) return;
        await this.spool.close(); // writes any open gap; everything is on disk now
        this.target = this.spool.lastSeq;
        this.checkDone();
      });
      const ok = await this.connectLoop();
      for (const s of this.sources) s.stop();
      await sourcesDone;
      await this.spool.close();
      return ok ? 0 : 1;
    } finally {
      this.lock.release();
    }
  }

  /**
   * SIGTERM: stop reading the sources, make the spool durable, and give the collector a few
   * seconds to acknowledge what is spooled; whatever it has not is sent by the next run.
   */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const s of this.sources) s.stop();
    setTimeout(() => {
      this.gaveUp = true;
      this.channel?.end();
      const ch = this.channel;
      if (ch) setTimeout(() => ch.destroy(), 2000).unref();
      this.wakeRetry?.();
    }, 5000).unref();
  }

  private gaveUp = false;
  /** The collector refused a U frame: send every record as R from now on. */
  private plainRecords = false;

  private host(): SourceHost {
    const spool = this.spool;
    return {
      record: (payload, unterminated) => {
        spool.append(payload, undefined, unterminated);
      },
      setPosition: (key, pos) => spool.setPosition(key, pos),
      position: (key) => spool.position(key),
      whenWritable: () => spool.whenWritable(),
      warn: this.o.warn,
    };
  }

  private startSources(): Promise<unknown> {
    const host = this.host();
    for (const f of this.o.files) this.sources.push(new FileSource(f, host));
    if (this.o.journal) this.sources.push(new JournalSource(host, this.o.journalctl));
    if (this.o.syslogSocket) this.sources.push(new SyslogSource(this.o.syslogSocket, host));
    if (this.o.stdin) this.sources.push(new StdinSource(host));
    this.o.commands.forEach((c, i) => {
      this.sources.push(new CommandSource(c, host, `command:${i}`));
    });
    return Promise.allSettled(
      this.sources.map((s) =>
        s.run(this.o.once).catch((err: Error) => this.o.warn(`source ${s.key} failed: ${err.message}`)),
      ),
    );
  }

  private done(): boolean {
    return this.target !== null && this.spool.acked >= this.target;
  }

  private checkDone(): void {
    if (this.done()) this.channel?.end();
    if (this.done()) this.wakeRetry?.();
  }

  /** Sessions until stopped (or, with --once, until everything is acknowledged). */
  private async connectLoop(): Promise<boolean> {
    let attempt = 0;
    while (!this.gaveUp && !this.done()) {
      const before = this.spool.acked;
      let why: string;
      try {
        why = await this.session();
      } catch (err) {
        if (err instanceof LogwardError) throw err;
        why = (err as Error).message;
      }
      if (this.gaveUp || this.done()) break;
      if (this.spool.acked > before) attempt = 0;
      const wait = backoff(attempt++, 200, this.o.retryMaxMs);
      this.o.warn(`the channel to the collector closed (${why}); trying again in ${wait} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, wait);
        this.wakeRetry = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wakeRetry = null;
    }
    return this.done() || this.stopping;
  }

  /** One session; resolves with why it ended. */
  private async session(): Promise<string> {
    let welcome: ((seq: number) => void) | null = null;
    const welcomed = new Promise<number>((r) => {
      welcome = r;
    });
    let ended: AgentEnd | null = null;
    const onReply = (r: CollectorReply) => {
      if (r.type === "welcome") welcome?.(r.seq);
      else if (r.type === "ack") {
        void this.spool.ack(r.seq);
        this.checkDone();
      } else ended = r.end;
    };
    const ch = this.o.via
      ? viaChannel(this.o.via, onReply)
      : socketChannel(this.o.socket!, this.o.stream, onReply);
    this.channel = ch;
    let reader: SpoolReader | null = null;
    try {
      ch.write(encodeHello({ stream: this.o.stream, spool: this.spool.id }));
      const first = await Promise.race([welcomed, ch.closed.then(() => null)]);
      if (first === null) return await ch.closed;
      if (first > this.spool.lastSeq) {
        ch.destroy();
        throw new LogwardError(
          "LW_SPOOL_AHEAD",
          `The collector already holds seq ${first} of spool ${this.spool.id}, but this spool ends at ${this.spool.lastSeq} (was it restored from a copy?); move ${this.o.spoolDir} away to start a new spool.`,
        );
      }
      await this.spool.ack(first);
      this.checkDone();
      reader = new SpoolReader(this.spool, first, this.plainRecords);
      const r = reader;
      void ch.closed.then(() => r.close());
      for (;;) {
        const frames = await r.next();
        if (frames === null) break;
        // one write per batch: a pipe write per record would cost more than the record
        if (!ch.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames))) await ch.drained();
      }
      const why = await ch.closed;
      const e = ended as AgentEnd | null;
      if (e && !this.plainRecords && e.message.includes("unknown frame type 0x55")) {
        // a collector older than U frames: send those records as R (their LF comes back)
        this.plainRecords = true;
        this.o.warn(
          "the collector does not know unterminated records (it is older than this ship); a last line without LF is sent as a whole line",
        );
      }
      return e ? `the collector ended the session: ${e.message}` : why;
    } finally {
      await reader?.close();
      this.channel = null;
    }
  }
}
