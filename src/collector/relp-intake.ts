// A RELP session (rsyslog `omrelp` → logward) as an intake: `open` is answered with the
// server's offers, each `syslog` frame's data is one record (the message exactly as received),
// and its `rsp 200 OK` is sent only once that record is fsync'd: one durability wait answers
// every frame received before it, in txnr order. `close` is answered (after everything before
// it) and followed by the hint `serverclose`; anything else is answered `500`. A break of the
// grammar is a FramingError: the session ends, its reason recorded, and the sender resends
// what it has no answer for.
//
// Bounded: at most `maxUnacked` frames wait for their answer (held or not yet durable); past
// that the intake is `full` and the session stops reading, so the sender's window fills.
//
// Exactly once across a crash: omrelp resends every frame it has no answer for at the start of
// its next session, and some of those may already be stored (durable, but the answer was lost
// with the collector or the connection). Before it stores anything the intake reads its
// stream's open chains (relp-tail.ts) and holds the first frames while they could still be
// that resend: the longest run of first frames that equals the end of a chain is acknowledged
// without being stored again, and the session continues that chain. What this cannot tell
// apart (a sender that really sends again, byte for byte, the messages it sent last before the
// break) is documented in docs/PROTOCOL.md.

import { createHash, randomBytes } from "node:crypto";
import { kvValue } from "../store/kv.ts";
import { FramingError } from "../wire/framer.ts";
import {
  encodeRelpOpenReply,
  encodeRelpRsp,
  encodeRelpServerClose,
  parseRelpOffers,
  RelpParser,
} from "../wire/relp.ts";
import type { Intake, IntakeHost, SessionResult } from "./intake.ts";

/** The resume reference of a RELP record: this prefix and its chain's tag (relp-tail.ts). */
export const RELP_REF_PREFIX = "relp-";

/** Each open chain's tag → the digests of its last records, oldest first. */
export type RelpChains = Map<string, string[]>;

/** How a stored record is compared with a resent frame: SHA-256 of the bytes, base64. */
export function relpDigest(payload: Uint8Array): string {
  return createHash("sha256").update(payload).digest("base64");
}

export interface RelpIntakeOptions {
  /** `name,version` for the open reply's relp_software. */
  software?: string;
  /** Frames that may wait for their answer before the session stops reading. */
  maxUnacked?: number;
  /** The stream's open chains (relp-tail.ts); without it no frame is taken for a resend. */
  recentChains?: () => Promise<RelpChains>;
}

/** librelp's default window is 128 frames; a sender may use more. */
export const RELP_MAX_UNACKED = 1024;
/** Held frames (copies, while they may be a resend) at most this many bytes. */
const HELD_BYTES = 16 * 1024 * 1024;

interface HeldFrame {
  txnr: number;
  command: string;
  data: Buffer;
}

/** A live guess: the frames so far are the chain's records from `start` on. */
interface Match {
  tag: string;
  digests: string[];
  start: number;
}

/** An answer waiting for durability: a txnr answered `200 OK`, or encoded bytes. */
type Answer = number | Buffer;

type Phase = "loading" | "matching" | "live";

export class RelpIntake implements Intake {
  private readonly host: IntakeHost;
  private readonly parser: RelpParser;
  private readonly software: string;
  private readonly maxUnacked: number;
  private phase: Phase = "live";
  private loading: Promise<void> | null = null;
  private dedupUnavailable = "";
  private opened = false;
  /** The client's `close` was seen: frames after it are a protocol error. */
  private closing = false;
  private closeAnswered = false;
  private serverClosed = false;
  private finished = false;
  /** Answers in txnr order, not yet sent; each waits until what came before it is durable. */
  private answers: Answer[] = [];
  private ackInFlight = false;
  private ref: string;
  private tag: string;
  private readonly held: HeldFrame[] = [];
  private heldBytes = 0;
  private matches: Match[] = [];
  private best: { tag: string; length: number } | null = null;
  /** Held frames the guesses have been checked against. */
  private matched = 0;
  private chains: RelpChains | null = null;
  private readyWaiters: (() => void)[] = [];
  frames = 0;
  acked = 0;
  duplicates = 0;
  refused = 0;

  constructor(host: IntakeHost, options: RelpIntakeOptions = {}) {
    this.host = host;
    this.parser = new RelpParser(host.maxRecordBytes, this);
    this.software = options.software ?? "logward";
    this.maxUnacked = options.maxUnacked ?? RELP_MAX_UNACKED;
    this.tag = randomBytes(4).toString("hex");
    this.ref = RELP_REF_PREFIX + this.tag;
    const recent = options.recentChains;
    if (recent) {
      this.phase = "loading";
      this.loading = recent().then(
        (chains) => this.loaded(chains),
        (err: Error) => {
          this.dedupUnavailable = err.message;
          this.loaded(new Map());
        },
      );
    }
  }

  get buffered(): number {
    return this.parser.buffered + this.heldBytes;
  }

  /** True while the session must stop reading: the tail is loading, or too much is unanswered. */
  get full(): boolean {
    return (
      this.phase === "loading" ||
      this.answers.length + this.held.length >= this.maxUnacked ||
      this.heldBytes >= HELD_BYTES
    );
  }

  whenReady(): Promise<void> {
    if (!this.full || this.finished) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  push(chunk: Buffer): void {
    this.parser.push(chunk);
    this.scheduleAck();
  }

  end(): void {
    this.parser.end();
    if (this.phase === "matching") this.resolve();
  }

  /** The session is ending: frames held while the tail was loading are decided now. */
  async complete(reason: string): Promise<string> {
    if (this.loading) await this.loading;
    let why = reason;
    if (this.phase === "matching") {
      try {
        this.resolve();
      } catch (err) {
        if (reason === "eof") why = `protocol error: ${(err as Error).message}`;
      }
    }
    this.wake();
    return why;
  }

  // ---- RelpFrameSink ----

  frame(txnr: number, command: string, data: Buffer): void {
    if (this.closing) throw new FramingError(`a RELP '${command.slice(0, 32)}' frame after close`);
    if (!this.opened) {
      if (command !== "open")
        throw new FramingError(`a RELP session begins with open, not '${command.slice(0, 32)}'`);
      this.opened = true;
      this.open(txnr, data);
      return;
    }
    if (this.phase !== "live") {
      this.held.push({ txnr, command, data: Buffer.from(data) });
      this.heldBytes += data.length;
      if (this.phase === "matching") this.matchHeld();
      return;
    }
    this.handle(txnr, command, data);
  }

  closeFields(): string {
    const f = [`relp_frames=${this.frames}`, `acked=${this.acked}`, `relp_chain=${this.tag}`];
    if (this.duplicates) f.push(`duplicates=${this.duplicates}`);
    if (this.refused) f.push(`refused_commands=${this.refused}`);
    if (this.dedupUnavailable) f.push(`dedup_unavailable=${kvValue(this.dedupUnavailable)}`);
    if (this.closeAnswered) f.push("relp_close=yes");
    return f.join(" ");
  }

  finish(result: SessionResult): void {
    if (this.finished) return;
    this.finished = true;
    // everything stored is durable now (the session waited), unless the store failed
    if (result.ok || !result.reason.startsWith("store error")) this.sendAnswers(this.answers.length);
    this.serverClose();
    this.wake();
  }

  // ---- frames ----

  private open(txnr: number, data: Buffer): void {
    const commands = parseRelpOffers(data).get("commands") ?? [];
    if (!commands.includes("syslog")) {
      this.host.reply(encodeRelpRsp(txnr, false, "this server takes only the syslog command"));
      throw new FramingError("the RELP client does not offer the syslog command");
    }
    this.host.reply(
      encodeRelpOpenReply(txnr, { relpVersion: 0, software: this.software, commands: ["syslog"] }),
    );
  }

  private handle(txnr: number, command: string, data: Buffer): void {
    if (command === "syslog") {
      this.frames++;
      this.host.appendRecord(data, this.ref);
      this.answers.push(txnr);
    } else if (command === "close") {
      this.closing = true;
      this.answers.push(encodeRelpRsp(txnr, true));
    } else if (command === "open") {
      throw new FramingError("a second RELP open in one session");
    } else {
      // starttls, rsp or anything unknown: refused, the session goes on (librelp does the same)
      this.refused++;
      this.answers.push(encodeRelpRsp(txnr, false, `command '${command.slice(0, 32)}' not supported`));
    }
  }

  // ---- the resend check ----

  private loaded(chains: RelpChains): void {
    this.loading = null;
    this.chains = chains;
    this.phase = chains.size > 0 ? "matching" : "live";
    try {
      if (this.phase === "matching") this.matchHeld();
      else this.replayHeld(0);
    } catch (err) {
      // what push() would have thrown, had the frames not waited for the tail
      const message = (err as Error).message;
      this.host.end(err instanceof FramingError ? `protocol error: ${message}` : `error: ${message}`);
    }
    this.scheduleAck();
    this.wake();
  }

  /**
   * Follows the guesses over the held frames that are not matched yet. A guess is complete
   * when it reaches its chain's end: that many frames are stored already. The longest
   * complete guess wins once no longer one is alive.
   */
  private matchHeld(): void {
    const chains = this.chains!;
    // the frames matched so far are all syslog frames; `matched` counts them
    for (let i = this.matched; i < this.held.length; i++) {
      const h = this.held[i]!;
      if (h.command !== "syslog") {
        this.resolve();
        return;
      }
      const d = relpDigest(h.data);
      if (i === 0) {
        for (const [tag, digests] of chains) {
          for (let p = 0; p < digests.length; p++)
            if (digests[p] === d) this.matches.push({ tag, digests, start: p });
        }
      } else {
        this.matches = this.matches.filter((m) => m.digests[m.start + i] === d);
      }
      this.matched = i + 1;
      this.matches = this.matches.filter((m) => {
        if (m.start + i < m.digests.length - 1) return true;
        if (!this.best || i + 1 > this.best.length) this.best = { tag: m.tag, length: i + 1 };
        return false;
      });
      if (this.matches.length === 0) {
        this.resolve();
        return;
      }
    }
    if (this.heldBytes >= HELD_BYTES || this.held.length >= this.maxUnacked) this.resolve();
  }

  /**
   * Decides the held frames: the best complete guess's frames are acknowledged as stored (and
   * this session continues that chain), the rest are handled as they came.
   */
  private resolve(): void {
    this.phase = "live";
    const dup = this.best?.length ?? 0;
    if (this.best && dup > 0) {
      this.tag = this.best.tag;
      this.ref = RELP_REF_PREFIX + this.tag;
    }
    for (let k = 0; k < dup; k++) {
      this.frames++;
      this.duplicates++;
      this.answers.push(this.held[k]!.txnr);
    }
    this.matches = [];
    this.matched = 0;
    this.chains = null;
    this.best = null;
    this.replayHeld(dup);
    this.scheduleAck();
  }

  private replayHeld(from: number): void {
    const held = this.held.splice(0);
    this.heldBytes = 0;
    for (let k = from; k < held.length; k++) {
      const h = held[k]!;
      if (this.closing) throw new FramingError(`a RELP '${h.command.slice(0, 32)}' frame after close`);
      this.handle(h.txnr, h.command, h.data);
    }
  }

  // ---- answers ----

  /** Answers everything received so far once it is fsync'd; one wait at a time. */
  private scheduleAck(): void {
    if (this.ackInFlight || this.finished || this.answers.length === 0) return;
    const target = this.answers.length;
    this.ackInFlight = true;
    this.host.whenDurable().then(
      () => {
        this.ackInFlight = false;
        if (this.finished) return;
        this.sendAnswers(target);
        this.scheduleAck();
      },
      () => {
        this.ackInFlight = false;
      },
    );
  }

  /** Sends the first `count` answers in one write; after the answer to close, ends the session. */
  private sendAnswers(count: number): void {
    if (count === 0) return;
    const batch = this.answers.splice(0, count);
    const parts: Buffer[] = [];
    let run = "";
    for (const a of batch) {
      if (typeof a === "number") {
        run += `${a} rsp 6 200 OK\n`;
        this.acked++;
      } else {
        if (run) parts.push(Buffer.from(run, "latin1"));
        run = "";
        parts.push(a);
      }
    }
    if (run) parts.push(Buffer.from(run, "latin1"));
    this.host.reply(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    this.wake();
    if (this.closing && this.answers.length === 0 && !this.closeAnswered) {
      this.closeAnswered = true;
      this.serverClose();
      this.host.end("eof");
    }
  }

  private serverClose(): void {
    if (this.serverClosed) return;
    this.serverClosed = true;
    this.host.reply(encodeRelpServerClose());
  }

  private wake(): void {
    if (this.full && !this.finished) return;
    const waiters = this.readyWaiters.splice(0);
    for (const w of waiters) w();
  }
}
