// `--journal`: runs `journalctl -o export --no-tail --merge -f --cursor=<C>`, C the last cursor
// this spool holds, and stores each entry as one record (its export bytes, binary fields
// included). The cursor is the source's position, committed with the entries, so a restart
// continues after exactly the last spooled entry. `--journalctl CMD` replaces the command (tests
// add --directory=DIR to the real one); its arguments are passed as arguments, never through
// the shell's parsing.
//
// Why these flags (systemd's journalctl.c, v252): -f alone implies -n 10 (--no-tail: every
// entry on a first run) and -b (--merge: every boot, so a cursor from an earlier boot loses
// nothing in between); --after-cursor=C skips one entry past C's position without checking it
// is C, so a cursor no longer in the journal lost the first new entry (systemd issue 30288,
// fixed in v255). --cursor=C starts at C itself when it is still there, and that first entry,
// when its cursor is C, is dropped here: it is the last one spooled.

import { spawn } from "node:child_process";
import { JournalFramer } from "../wire/journal.ts";
import { backoff, type Source, type SourceHost } from "./source.ts";
import { MAX_SPOOL_RECORD } from "./spool-format.ts";

export class JournalSource implements Source {
  readonly key = "journal";
  private readonly host: SourceHost;
  private readonly command: string;
  private cursor: string | undefined;
  private stopped = false;
  private kill: (() => void) | null = null;
  private wake: (() => void) | null = null;

  constructor(host: SourceHost, command = "journalctl") {
    this.host = host;
    this.command = command;
    const saved = host.position(this.key);
    this.cursor = typeof saved === "string" ? saved : undefined;
  }

  async run(once: boolean): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const started = Date.now();
      const code = await this.runOnce(once);
      if (once || this.stopped) return;
      if (Date.now() - started > 10_000) attempt = 0;
      const wait = backoff(attempt, 1000, 60_000);
      this.host.warn(`${this.command} exited (${code}); starting it again in ${wait} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, wait);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  private async runOnce(once: boolean): Promise<number | string | null> {
    const args = ["-o", "export", "--no-tail", "--merge"];
    if (!once) args.push("-f");
    const resumeAt = this.cursor;
    if (resumeAt) args.push(`--cursor=${resumeAt}`);
    let first = true;
    // exec: SIGTERM then reaches journalctl itself; a shell left in between would die alone and
    // leave journalctl -f holding the pipe, so the source (and ship) would never end
    const child = spawn("sh", ["-c", `exec ${this.command} "$@"`, "sh", ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.kill = () => child.kill("SIGTERM");
    const exited = new Promise<number | string | null>((r) => {
      child.once("error", (err) => r(err.message));
      child.once("close", (code, signal) => r(code ?? signal));
    });
    const framer = new JournalFramer(MAX_SPOOL_RECORD, {
      entry: (payload, _full, cursor) => {
        if (first) {
          first = false;
          if (resumeAt !== undefined && cursor === resumeAt) return; // spooled already
        }
        this.host.record(payload);
        if (cursor) {
          this.cursor = cursor;
          this.host.setPosition(this.key, cursor);
        }
      },
      resumeRequested: () => {},
    });
    try {
      for await (const chunk of child.stdout!) {
        framer.push(chunk as Buffer);
        await this.host.whenWritable();
      }
      framer.end(); // an entry cut off by the command's end is not a record; it comes again
    } catch (err) {
      this.host.warn(`${this.command}: ${(err as Error).message}`);
      child.kill("SIGTERM");
    }
    this.kill = null;
    return exited;
  }

  stop(): void {
    this.stopped = true;
    this.kill?.();
    this.wake?.();
  }
}
