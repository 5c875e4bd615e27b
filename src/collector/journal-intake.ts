// The `journal` format in a session: each export entry becomes one record whose resume
// reference is its __CURSOR; "?resume" is answered with the stream's last durable cursor, so a
// sender running `journalctl --after-cursor` gets every entry exactly once across crashes.

import { encodeResumeReply, JournalFramer, type JournalSink } from "../wire/journal.ts";
import type { Intake, Session, SessionResult } from "./session.ts";

export class JournalIntake implements Intake, JournalSink {
  private readonly session: Session;
  private readonly framer: JournalFramer;

  constructor(session: Session) {
    this.session = session;
    this.framer = new JournalFramer(session.opts.maxRecordBytes, this);
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
    if (fullLength > payload.length) {
      this.session.truncated(Buffer.from(payload), fullLength, cursor);
      return;
    }
    this.session.writer.appendRecords([payload], [cursor]);
    this.session.recordCount++;
  }

  resumeRequested(): void {
    this.session.opts.reply(encodeResumeReply(this.session.opts.resumeRef));
  }

  closeFields(): string {
    const n = this.framer.incompleteBytes;
    return n > 0 ? `incomplete_bytes=${n}` : "";
  }

  finish(_result: SessionResult): void {}
}
