// The `journal` format in a session: each export entry becomes one record whose resume
// reference is its __CURSOR; "?resume" is answered with the stream's last durable cursor C.
//
// The senders run `journalctl --cursor=C`, which starts AT C, not after it: `--after-cursor`
// skips one entry past the cursor's position without checking that the entry there is C
// (journalctl.c, v252: sd_journal_seek_cursor(), then sd_journal_next_skip(j, 2)), so when C
// is no longer in the journal (a rebooted AppVM, a disposable's reused name, a vacuumed file)
// it skips the first new entry (systemd issue 30288, fixed in v255). With `--cursor=C` the
// first entry is C itself when it is still there: a session that asked "?resume" drops its
// first entry when, and only when, its cursor equals the reference it was answered with (the
// stream's durable one: one resumable session per stream, so nothing was appended since).
// Any later entry, or a first entry with another cursor, is stored.

import { encodeResumeReply, JournalFramer, type JournalSink } from "../wire/journal.ts";
import type { Intake, IntakeHost, SessionResult } from "./intake.ts";

export class JournalIntake implements Intake, JournalSink {
  private readonly host: IntakeHost;
  private readonly framer: JournalFramer;
  /** The sender asked "?resume": its first entry may be the resume cursor's own entry. */
  private resumed = false;
  private first = true;
  /** Entries dropped because they were the stored entry the sender resumed at (0 or 1). */
  private duplicates = 0;

  constructor(host: IntakeHost) {
    this.host = host;
    this.framer = new JournalFramer(host.maxRecordBytes, this);
  }

  get buffered(): number {
    return this.framer.buffered;
  }

  push(chunk: Buffer): void {
    this.framer.push(chunk);
  }

  end(): void {
    this.framer.end();
  }

  entry(payload: Buffer, fullLength: number, cursor: string | undefined): void {
    if (this.first) {
      this.first = false;
      if (this.resumed && cursor !== undefined && cursor === this.host.resumeRef) {
        this.duplicates++;
        return;
      }
    }
    if (fullLength > payload.length) {
      this.host.truncated(Buffer.from(payload), fullLength, cursor);
      return;
    }
    this.host.appendRecord(payload, cursor);
  }

  resumeRequested(): void {
    this.resumed = true;
    this.host.reply(encodeResumeReply(this.host.resumeRef));
  }

  closeFields(): string {
    const f: string[] = [];
    if (this.duplicates) f.push(`duplicates=${this.duplicates}`);
    const n = this.framer.incompleteBytes;
    if (n > 0) f.push(`incomplete_bytes=${n}`);
    return f.join(" ");
  }

  finish(_result: SessionResult): void {}
}
