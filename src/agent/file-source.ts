// `--file PATH`: follows a log file as it is written, one record per line, and resumes where it
// stopped after a restart. The position (inode and offset of the next unread line) is stored
// in the spool with the records read before it, in the same fsync, so a crash never reads a
// line twice or skips one.
//
// Rotation: by rename (logrotate's default) the old inode is read to its end, then the new file
// from its start; by copy-truncate a size below the position means the file restarted at 0.
// Rotated while ship was down: the old inode is looked for in the same directory (app.log.1)
// and read to its end first. A last line without LF is read only when the file is rotated away
// (or, with --once, at the end): until then it may still be being written. It is then sent as
// an unterminated record, so the collector keeps that no LF followed it (`show --raw` gives
// back the file's bytes exactly).
//
// No polling: an inotify watch on the directory (fs.watch) wakes the reader.

import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Source, SourceHost } from "./source.ts";
import { MAX_SPOOL_RECORD } from "./spool-format.ts";

const LF = 0x0a;
const BLOCK = 256 * 1024;

interface FilePosition {
  ino: number;
  offset: number;
}

export class FileSource implements Source {
  readonly key: string;
  private readonly path: string;
  private readonly host: SourceHost;
  private fh: FileHandle | null = null;
  private ino = 0;
  private offset = 0;
  /** Inside a line longer than the limit: its first part was stored, the rest is skipped. */
  private skipping = false;
  private buf = Buffer.allocUnsafe(BLOCK);
  private watcher: FSWatcher | null = null;
  private wake: (() => void) | null = null;
  private changed = false;
  private stopped = false;
  cutLines = 0;

  constructor(path: string, host: SourceHost) {
    this.path = path;
    this.key = `file:${path}`;
    this.host = host;
  }

  async run(once: boolean): Promise<void> {
    if (!once) {
      // the directory, not the file: it also sees the file renamed away and created anew. Only
      // events for our file's name wake us (a busy /var/log has many other writers).
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: true }, (_e, changed) => {
        if (changed === null || changed === name) this.poke();
      });
      this.watcher.on("error", (err) => this.host.warn(`watching ${this.path}: ${err.message}`));
    }
    try {
      await this.resume();
      for (;;) {
        if (this.stopped) return;
        this.changed = false;
        await this.readToEnd(false);
        const rotated = await this.checkRotation();
        if (rotated) continue;
        if (once) {
          await this.readToEnd(true);
          return;
        }
        if (!this.changed && !this.stopped) await new Promise<void>((r) => (this.wake = r));
      }
    } finally {
      this.watcher?.close();
      await this.fh?.close();
      this.fh = null;
    }
  }

  stop(): void {
    this.stopped = true;
    this.poke();
  }

  private poke(): void {
    this.changed = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Opens where the last run stopped: the same inode, or its rotated name, or the new file. */
  private async resume(): Promise<void> {
    const saved = this.host.position(this.key) as FilePosition | undefined;
    const current = await this.openPath();
    if (!saved || !current) return;
    if (current === saved.ino) {
      this.offset = saved.offset;
      return;
    }
    // rotated while we were down: finish the old inode first if it is still in the directory
    const dir = dirname(this.path);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const p = join(dir, name);
      const st = await stat(p).catch(() => null);
      if (st?.isFile() && st.ino === saved.ino) {
        const fresh = this.fh;
        this.fh = await open(p, "r");
        this.ino = saved.ino;
        this.offset = saved.offset;
        await this.readToEnd(true);
        await this.fh.close();
        this.fh = fresh;
        this.ino = current;
        this.offset = 0;
        return;
      }
    }
    this.host.warn(`${this.path} was replaced while logward ship was not running and the old file is gone`);
  }

  /** Opens the path if it exists; returns its inode (0 if missing). */
  private async openPath(): Promise<number> {
    try {
      const fh = await open(this.path, "r");
      const st = await fh.stat();
      this.fh = fh;
      this.ino = st.ino;
      this.offset = 0;
      return st.ino;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
  }

  /** After reaching the end: was the file renamed away, replaced, or truncated? */
  private async checkRotation(): Promise<boolean> {
    const st = await stat(this.path).catch(() => null);
    if (!this.fh) {
      if (!st) return false;
      await this.openPath();
      return true;
    }
    if (st && st.ino !== this.ino) {
      await this.readToEnd(true); // the old inode's last bytes, then the new file
      await this.fh.close();
      this.fh = null;
      await this.openPath();
      this.host.setPosition(this.key, { ino: this.ino, offset: 0 });
      return true;
    }
    const size = (await this.fh.stat()).size;
    if (size < this.offset) {
      this.host.warn(`${this.path} was truncated; reading it again from the start`);
      this.offset = 0;
      this.skipping = false;
      this.host.setPosition(this.key, { ino: this.ino, offset: 0 });
      return true;
    }
    return false;
  }

  /** Reads whole lines up to the end of the file; `final` also takes a last line without LF. */
  private async readToEnd(final: boolean): Promise<void> {
    if (!this.fh) return;
    for (;;) {
      if (this.stopped) return;
      await this.host.whenWritable();
      const { bytesRead } = await this.fh.read(this.buf, 0, this.buf.length, this.offset);
      if (bytesRead === 0) return;
      const chunk = this.buf.subarray(0, bytesRead);
      let s = 0;
      let lf = chunk.indexOf(LF);
      while (lf !== -1) {
        if (this.skipping) this.skipping = false;
        else this.host.record(chunk.subarray(s, lf));
        s = lf + 1;
        lf = chunk.indexOf(LF, s);
      }
      const rest = bytesRead - s;
      if (s === 0 && rest === this.buf.length) {
        // one line fills the buffer: grow up to the record limit, then keep its start only
        if (this.buf.length < MAX_SPOOL_RECORD && !this.skipping) {
          this.buf = Buffer.allocUnsafe(Math.min(MAX_SPOOL_RECORD, this.buf.length * 2));
          continue;
        }
        if (!this.skipping) {
          this.host.record(chunk);
          this.cutLines++;
          this.host.warn(
            `a line of ${this.path} is longer than ${MAX_SPOOL_RECORD} bytes; only its start is kept`,
          );
        }
        this.skipping = true;
        s = bytesRead;
      } else if (final && rest > 0 && bytesRead < this.buf.length) {
        if (!this.skipping) this.host.record(chunk.subarray(s), true);
        this.skipping = false;
        s = bytesRead;
      }
      if (s === 0) return; // only part of a line so far
      this.offset += s;
      this.host.setPosition(this.key, { ino: this.ino, offset: this.offset });
    }
  }
}
