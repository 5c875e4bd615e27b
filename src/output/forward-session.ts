// One agent session of a `logward` output (logward.ts): one source stream of this store, sent
// to one stream of the receiving collector over a command channel or a TLS connection
// (forward-tls.ts), exactly as `logward ship` sends its spool (docs/PROTOCOL.md, "agent"; the channel is src/agent/channel.ts). The store
// itself is the spool: the agent seq of a record is its seq in the source stream, which is
// dense, durable and never renumbered, so the receiver's welcome (the last seq of this
// "spool" it holds durably) is exactly where to go on, and a record sent twice after a crash
// of either side is recognised by its seq and skipped there. Acks come only after the
// receiver's fsync; deliver() waits for them.
//
// What is sent for each stored record (docs/PROTOCOL.md, "Forwarding to another collector"):
// - a sender's record (`.`): its bytes as the source's sender sent them (the stored payload
//   unescaped), as `R`; as `U` when the source stored a `!nolf` for it, so the receiver keeps
//   the missing LF too;
// - a collector's record (`!open`, `!gap`, `!nolf`, …): `!kind payload` (unescaped) as an
//   ordinary `R`, so that every seq arrives (a missing one would be recorded at the receiver as
//   skipped) and what the source collector noted (cuts, gaps, evictions) travels with the data.
//   At the receiver it is a sender's record like any other: it cannot pass for a record of the
//   receiving collector.

import type { Channel } from "../agent/channel.ts";
import { unescapePayload } from "../store/escape.ts";
import { type AgentEnd, type CollectorReply, encodeHello, encodeRecord } from "../wire/agent.ts";
import type { OutRecord } from "./destination.ts";

/** Where one session goes and how it names itself. */
export interface SessionTarget {
  /** The source stream (this store). */
  readonly origin: string;
  readonly stream: string;
  /** The receiving collector's stream (the hello's, and $LOGWARD_STREAM of the command). */
  readonly remoteStream: string;
  /** The agent spool id: names the source stream's numbering (logward.ts, spoolIdFor). */
  readonly spool: string;
  /** Opens the channel (a command run by sh, or TLS), its replies to `onReply`. */
  readonly open: (onReply: (r: CollectorReply) => void) => Channel;
}

interface AckWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const NOLF_SEQ_RE = /(?:^| )seq=(\d{1,16})(?: |$)/;

export class ForwardSession {
  readonly target: SessionTarget;
  private readonly channel: Channel;
  /** Resolves at the welcome; rejects if the channel ends first. */
  private readonly welcomed: Promise<void>;
  private onWelcome: (() => void) | null = null;
  private onFailure: ((err: Error) => void) | null = null;
  /** Everything up to this seq is durable at the receiver (welcome, then acks). */
  private acked = 0;
  /** The highest seq written to the channel (or held by the receiver already). */
  private sent = 0;
  private waiters: AckWaiter[] = [];
  private end: AgentEnd | null = null;
  /** Set once the channel is gone or broken: every later send fails with it. */
  failure: Error | null = null;
  /** The seq a forwarded `!nolf` named: that record goes as `U`. */
  private nolfSeq = 0;
  /** When a send last used this session (Date.now()). */
  lastUsed = Date.now();

  constructor(target: SessionTarget) {
    this.target = target;
    this.welcomed = new Promise<void>((resolve, reject) => {
      this.onWelcome = resolve;
      this.onFailure = reject;
    });
    this.welcomed.catch(() => {});
    this.channel = target.open((r) => this.reply(r));
    void this.channel.closed.then((why) => {
      const e = this.end as AgentEnd | null;
      this.fail(new Error(e ? `the receiving collector ended the session: ${e.message}` : why));
    });
    this.channel.write(encodeHello({ stream: target.remoteStream, spool: target.spool }));
  }

  /** True when every record sent is acknowledged: the session can end without losing a wait. */
  get idle(): boolean {
    return this.acked >= this.sent && this.waiters.length === 0;
  }

  /**
   * Sends `records` (one source stream, in seq order) and resolves once the receiver has every
   * one of them durably; rejects if the channel ends first.
   */
  async send(records: readonly OutRecord[]): Promise<void> {
    this.lastUsed = Date.now();
    await this.welcomed;
    if (this.failure) throw this.failure;
    const frames: Buffer[] = [];
    let last = 0;
    for (const r of records) {
      last = r.seq;
      if (r.seq <= this.sent) continue; // the receiver holds it already (its welcome said so)
      frames.push(this.frame(r));
      this.sent = r.seq;
    }
    const acked = this.waitAck(last);
    if (frames.length > 0 && !this.channel.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames)))
      await this.channel.drained();
    return acked;
  }

  /** Ends the session: the receiver acks what it has, answers with its end and the command exits. */
  async close(graceMs: number): Promise<void> {
    this.channel.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, graceMs);
    });
    await Promise.race([this.channel.closed, late]);
    clearTimeout(timer);
    this.channel.destroy();
    this.fail(new Error("the session was closed"));
  }

  private frame(r: OutRecord): Buffer {
    if (r.kind === ".") return encodeRecord(r.seq, unescapePayload(r.payload), r.seq === this.nolfSeq);
    if (r.kind === "!nolf") {
      const m = NOLF_SEQ_RE.exec(r.payload.toString("latin1"));
      if (m) this.nolfSeq = Number(m[1]);
    }
    return encodeRecord(r.seq, Buffer.concat([Buffer.from(`${r.kind} `), unescapePayload(r.payload)]));
  }

  private reply(r: CollectorReply): void {
    if (r.type === "welcome") {
      this.acked = r.seq;
      this.sent = Math.max(this.sent, r.seq);
      this.onWelcome?.();
    } else if (r.type === "ack") {
      if (r.seq > this.acked) this.acked = r.seq;
    } else {
      this.end = r.end;
      return;
    }
    this.settle();
  }

  private waitAck(seq: number): Promise<void> {
    if (this.acked >= seq) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
    });
  }

  private settle(): void {
    while (this.waiters.length > 0 && this.waiters[0]!.seq <= this.acked) this.waiters.shift()!.resolve();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.settle();
    this.failure = err;
    this.onFailure?.(err);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
