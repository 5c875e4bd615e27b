// The `agent` format in a session: the hello names the sender's spool; the collector answers
// with the last durable sequence number of that spool (from the stream's resume reference,
// "<spool>:<seq>"), stores records with that reference, skips any it already has, and
// acknowledges sequence numbers once they are fsync'd. Together with a sender that resumes
// from the welcome and forgets only what was acknowledged, that is exactly-once delivery.

import { kvMicros } from "../store/kv.ts";
import { formatTime } from "../store/record.ts";
import { type AgentGap, encodeAck, encodeAgentEnd, encodeWelcome, type Hello } from "../wire/agent.ts";
import { AgentDecoder, type AgentSink } from "../wire/agent-decoder.ts";
import { FramingError } from "../wire/framer.ts";
import type { Intake, IntakeHost, SessionResult } from "./intake.ts";

const BATCH = 1024;
/** Sender clock values shown as times only when they could be one (years 2000 to 2200). */
const SANE_US: [number, number] = [946684800e6, 7258118400e6];

/** The seq a stored reference gives for `spool`, or 0 when it belongs to another numbering. */
export function resumeSeqFor(ref: string | null, spool: string): number {
  if (ref === null || !ref.startsWith(`${spool}:`)) return 0;
  const n = Number(ref.slice(spool.length + 1));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

export class AgentIntake implements Intake, AgentSink {
  private readonly host: IntakeHost;
  private readonly decoder: AgentDecoder;
  private spool = "";
  private lastSeq = 0;
  private acked = 0;
  private ackInFlight = false;
  private duplicates = 0;
  private skipped = 0;
  private partialBytes = 0;
  private readonly offsets = new Uint32Array(BATCH * 2);
  private readonly refs: string[] = [];

  constructor(host: IntakeHost) {
    this.host = host;
    this.decoder = new AgentDecoder(host.maxRecordBytes, this);
  }

  get buffered(): number {
    return this.decoder.buffered;
  }

  push(chunk: Buffer): void {
    this.decoder.push(chunk);
    this.scheduleAck();
  }

  end(): void {
    this.partialBytes += this.decoder.end();
  }

  hello(h: Hello): void {
    const o = this.host;
    if (h.stream !== o.stream) {
      throw new FramingError(
        `the hello names stream '${h.stream.slice(0, 64)}' but the channel is for stream '${o.stream}'`,
      );
    }
    this.spool = h.spool;
    this.lastSeq = resumeSeqFor(o.resumeRef, h.spool);
    this.acked = this.lastSeq;
    o.reply(encodeWelcome(this.lastSeq));
  }

  records(buf: Buffer, offsets: Uint32Array, seqs: Float64Array, count: number): void {
    let n = 0;
    for (let k = 0; k < count; k++) {
      const seq = seqs[k]!;
      if (seq <= this.lastSeq) {
        this.duplicates++;
        continue;
      }
      if (seq > this.lastSeq + 1) {
        n = this.flush(buf, n);
        this.noteSkip(seq);
      }
      this.offsets[n * 2] = offsets[k * 2]!;
      this.offsets[n * 2 + 1] = offsets[k * 2 + 1]!;
      this.refs[n] = `${this.spool}:${seq}`;
      n++;
      this.lastSeq = seq;
    }
    this.flush(buf, n);
  }

  truncated(seq: number, kept: Buffer, fullLength: number): void {
    if (seq <= this.lastSeq) {
      this.duplicates++;
      return;
    }
    if (seq > this.lastSeq + 1) this.noteSkip(seq);
    this.host.truncated(kept, fullLength, `${this.spool}:${seq}`);
    this.lastSeq = seq;
  }

  unterminated(seq: number, kept: Buffer, fullLength: number): void {
    if (seq <= this.lastSeq) {
      this.duplicates++;
      return;
    }
    if (seq > this.lastSeq + 1) this.noteSkip(seq);
    this.host.unterminated(kept, fullLength, `${this.spool}:${seq}`);
    this.lastSeq = seq;
  }

  /**
   * The sender dropped the records it had numbered `g.seq - g.dropped + 1` to `g.seq`. Some of
   * them may have reached us before (sent, then dropped from the spool unacknowledged), so only
   * those after our last seq are counted: the stored count is exact.
   */
  gap(g: AgentGap): void {
    if (g.seq <= this.lastSeq) {
      this.duplicates++;
      return;
    }
    const first = Math.max(g.seq - g.dropped + 1, 1);
    if (first > this.lastSeq + 1) this.noteSkip(first);
    const lost = g.seq - Math.max(this.lastSeq, first - 1);
    const when = (us: number) => (us >= SANE_US[0] && us <= SANE_US[1] ? formatTime(us) : kvMicros(us));
    this.host.note(
      "gap",
      `${lost} record${lost === 1 ? "" : "s"} dropped at the sender between ${when(g.firstUs)} and ${when(g.lastUs)} ` +
        `(sender's clock) session=${this.host.id}`,
      `${this.spool}:${g.seq}`,
    );
    this.lastSeq = g.seq;
  }

  closeFields(): string {
    const f: string[] = [];
    if (this.spool) f.push(`spool=${this.spool}`, `last_seq=${this.lastSeq}`);
    if (this.duplicates) f.push(`duplicates=${this.duplicates}`);
    if (this.skipped) f.push(`skipped_seqs=${this.skipped}`);
    if (this.partialBytes) f.push(`incomplete_bytes=${this.partialBytes}`);
    return f.join(" ");
  }

  finish(result: SessionResult): void {
    const reply = (bytes: Buffer) => this.host.reply(bytes);
    // everything appended is durable now (the session waited): acknowledge the rest
    if (result.ok || !result.reason.startsWith("store error")) {
      if (this.lastSeq > this.acked) {
        this.acked = this.lastSeq;
        reply(encodeAck(this.lastSeq));
      }
    }
    reply(
      encodeAgentEnd({
        ok: result.ok,
        records: result.records,
        message: result.ok ? "durable" : result.reason,
      }),
    );
  }

  private flush(buf: Buffer, n: number): number {
    if (n === 0) return 0;
    this.host.append(buf, this.offsets, n, this.refs);
    return 0;
  }

  /** The sender jumped over sequence numbers without a gap notice: say so in the stream. */
  private noteSkip(seq: number): void {
    const missing = seq - this.lastSeq - 1;
    this.skipped += missing;
    this.host.note(
      "gap",
      `the sender skipped seq ${this.lastSeq + 1} to ${seq - 1} (${missing} record${missing === 1 ? "" : "s"}) without a gap notice ` +
        `session=${this.host.id}`,
    );
  }

  /** Acknowledges the highest seq appended so far once it is fsync'd; one wait at a time. */
  private scheduleAck(): void {
    if (this.ackInFlight || this.lastSeq <= this.acked) return;
    const target = this.lastSeq;
    this.ackInFlight = true;
    this.host.whenDurable().then(
      () => {
        this.ackInFlight = false;
        if (target > this.acked) {
          this.acked = target;
          this.host.reply(encodeAck(target));
        }
        this.scheduleAck();
      },
      () => {
        this.ackInFlight = false;
      },
    );
  }
}
