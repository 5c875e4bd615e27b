// `--journal`: runs `journalctl -o export -f` after the last cursor this spool holds and stores
// each entry as one record (its export bytes, binary fields included). The cursor is the
// source's position, committed with the entries, so a restart continues after exactly the last
// spooled entry. `--journalctl CMD` replaces the command (tests use a stand-in); its arguments
// are passed as arguments, never through the shell's parsing.

import { spawn } from "node:child_process";
import { JournalFramer } from "../wire/journal.ts";
import { backoff, type Source, type SourceHost } from "./source.ts";
import { MAX_SPOOL_RECORD } from "./spool.ts";

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
    const args = ["-o", "export"];
    if (!once) args.push("-f");
    if (this.cursor) args.push(`--after-cursor=${this.cursor}`);
    const child = spawn("sh", ["-c", `${this.command} "$@"`, "sh", ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.kill = () => child.kill("SIGTERM");
    const exited = new Promise<number | string | null>((r) => {
      child.once("error", (err) => r(err.message));
      child.once("close", (code, signal) => r(code ?? signal));
    });
    const framer = new JournalFramer(MAX_SPOOL_RECORD, {
      entry: (payload, _full, cursor) => {
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
