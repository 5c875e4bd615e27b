import { type FSWatcher, watch } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ioError, LogwardError } from "../errors.ts";
import { acquireStoreLock, type StoreLock } from "../store/lock.ts";
import { blobCall } from "./blob-call.ts";
import { type Candidate, hashFile, listFiles, openForWriting } from "./blob-files.ts";
import { type BlobEntry, BlobState, type EntryKind } from "./blob-state.ts";
import { backoff } from "./source.ts";

export interface BlobShipOptions {
  stream: string;
  spoolDir: string;
  via: string;
  /** Files named with --blob (absolute). */
  paths: string[];
  /** Directories named with --blob-dir (absolute). */
  dirs: string[];
  settleMs: number;
  once: boolean;
  retryMaxMs: number;
  retryFailed: boolean;
  warn: (message: string) => void;
}

/** While watching: a full look every minute even without any inotify event (a safety net). */
const RESCAN_MS = 60_000;

interface Track {
  version: string;
  firstSeen: number;
}

/** The state entry of a file version whose content is `sha256`. */
function entry(t: EntryKind, f: Candidate, sha256: string): Omit<BlobEntry, "at"> {
  return { t, sha256, size: Number(f.st.size), file: f.version, path: f.path };
}

export class BlobShipper {
  private readonly o: BlobShipOptions;
  private state!: BlobState;
  private lock!: StoreLock;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** While waiting for the next pass: bring it forward to within `ms`. */
  private shorten: ((ms: number) => void) | null = null;
  /** A change was seen since the last pass began. */
  private poked = false;
  private readonly watchers: FSWatcher[] = [];
  /** When each path's current version was first seen. */
  private readonly seen = new Map<string, Track>();
  /** Messages already given for a path (one each, until the file changes). */
  private readonly told = new Map<string, Set<string>>();
  /** --once: the files present at start that are still to be handled, with their version. */
  private todo: Map<string, string> | null = null;
  /** --once: files not shipped, with why. */
  private readonly notShipped: { path: string; why: string }[] = [];
  /** What this run did. */
  readonly stats = { sent: 0, known: 0, refused: 0 };

  constructor(options: BlobShipOptions) {
    this.o = options;
  }

  async run(): Promise<number> {
    try {
      await mkdir(this.o.spoolDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw ioError("create the spool directory", this.o.spoolDir, err);
    }
    for (const d of this.o.dirs) {
      const st = await stat(d).catch((err: unknown) => {
        throw ioError("read the directory", d, err);
      });
      if (!st.isDirectory()) throw new LogwardError("LW_USAGE", `--blob-dir ${d} is not a directory.`);
    }
    for (const p of this.o.paths) {
      const st = await stat(p).catch(() => null);
      if (st?.isDirectory()) {
        throw new LogwardError("LW_USAGE", `--blob ${p} is a directory; name it with --blob-dir instead.`);
      }
    }
    this.lock = acquireStoreLock(this.o.spoolDir, this.o.spoolDir, "spool");
    try {
      this.state = await BlobState.open(this.o.spoolDir, {
        retryFailed: this.o.retryFailed,
        warn: this.o.warn,
      });
      try {
        if (!this.o.once) this.startWatching();
        await this.loop();
      } finally {
        for (const w of this.watchers) w.close();
        this.state.close();
      }
    } finally {
      this.lock.release();
    }
    if (this.o.once && this.notShipped.length > 0) {
      const n = this.notShipped.length;
      const first = this.notShipped[0]!;
      throw new LogwardError(
        "LW_NOT_SHIPPED",
        `${n} file${n === 1 ? " was" : "s were"} not shipped (${first.path}: ${first.why}); see the messages above.`,
      );
    }
    return 0;
  }

  /** SIGTERM: no new file is started; one being sent is finished (never cut short). */
  stop(): void {
    this.stopping = true;
    this.wakeUp();
  }

  /**
   * A file in a watched directory changed. Whatever changed, its ctime is now, so it cannot be
   * complete before the settle time: a pass within the settle time is soon enough, and a
   * directory written to all the time (the capture under way) costs one pass per settle time.
   */
  private poke(): void {
    this.poked = true;
    this.shorten?.(this.o.settleMs);
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits `ms`, or less if a stop comes, or (if `pokeable`) a change shortens it. */
  private async sleep(ms: number, pokeable: boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      let until = Date.now() + ms;
      const fire = () => {
        this.wake = null;
        this.shorten = null;
        resolve();
      };
      let t = setTimeout(fire, ms);
      this.wake = () => {
        clearTimeout(t);
        fire();
      };
      this.shorten = pokeable
        ? (within: number) => {
            if (Date.now() + within >= until) return;
            clearTimeout(t);
            until = Date.now() + within;
            t = setTimeout(fire, within);
          }
        : null;
    });
  }

  private startWatching(): void {
    const watchDir = (dir: string, only?: string) => {
      try {
        const w = watch(dir, { persistent: true }, (_e, name) => {
          if (only === undefined || name === null || name === only) this.poke();
        });
        w.on("error", (err) => this.o.warn(`watching ${dir}: ${err.message}`));
        this.watchers.push(w);
      } catch (err) {
        this.o.warn(`cannot watch ${dir} (${(err as Error).message}); looking at it every rescan instead`);
      }
    };
    for (const d of this.o.dirs) watchDir(d);
    for (const p of this.o.paths) watchDir(dirname(p), basename(p));
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.stopping) {
      this.poked = false;
      const r = await this.pass();
      if (this.stopping) return;
      if (this.todo && this.todo.size === 0) return;
      if (r.failed) {
        // a failed call waits its backoff even when files change meanwhile (a stop ends it)
        const wait = backoff(attempt++, 200, this.o.retryMaxMs);
        this.o.warn(`${r.failed}; trying again in ${wait} ms`);
        await this.sleep(wait, false);
      } else {
        attempt = 0;
        await this.sleep(Math.min(r.next, RESCAN_MS, this.poked ? this.o.settleMs : RESCAN_MS), true);
      }
    }
  }

  /** Tells something about a path once (until its version changes). */
  private tell(c: { path: string; version: string }, what: string, message: string): void {
    const key = `${c.version} ${what}`;
    const set = this.told.get(c.path) ?? new Set<string>();
    this.told.set(c.path, set);
    if (set.has(key)) return;
    set.add(key);
    this.o.warn(message);
  }

  private abandon(path: string, why: string, failure: boolean): void {
    if (!this.todo?.delete(path)) return;
    if (failure) this.notShipped.push({ path, why });
    else this.o.warn(`${path} ${why}; it is left for a later run`);
  }

  /**
   * One look at every file: ships what is complete. Returns when to look again (ms), or why a
   * call failed (then the caller backs off).
   */
  private async pass(): Promise<{ next: number; failed?: string }> {
    const files = await listFiles(this.o.paths, this.o.dirs, this.o.warn);
    const now = Date.now();
    if (this.o.once && this.todo === null) {
      this.todo = new Map(files.map((f) => [f.path, f.version]));
      for (const p of this.o.paths) {
        if (!this.todo.has(p)) this.notShipped.push({ path: p, why: "it does not exist or is not a file" });
      }
    }
    const present = new Set(files.map((f) => f.path));
    if (!this.o.once) {
      for (const p of this.o.paths) {
        if (!present.has(p))
          this.tell({ path: p, version: "" }, "missing", `${p} does not exist yet; waiting for it`);
      }
    }
    this.state.setPresent(files.map((f) => f.version));
    for (const p of this.seen.keys()) if (!present.has(p)) this.seen.delete(p);
    for (const p of this.told.keys()) if (!present.has(p) && !this.o.paths.includes(p)) this.told.delete(p);
    if (this.todo) for (const p of this.todo.keys()) if (!present.has(p)) this.abandon(p, "went away", false);

    let next = Number.POSITIVE_INFINITY;
    const ready: Candidate[] = [];
    for (const f of files) {
      if (this.todo) {
        const want = this.todo.get(f.path);
        if (want === undefined) continue; // not there at start, or handled
        if (want !== f.version) {
          this.abandon(f.path, "is still being written (it changed after the start)", false);
          continue;
        }
      }
      if (f.st.size === 0n) {
        // nothing to keep (the collector stores no empty object); a writer that has only created
        // the file makes it non-empty, and then it is a new version
        this.todo?.delete(f.path);
        continue;
      }
      let track = this.seen.get(f.path);
      if (!track || track.version !== f.version) {
        track = { version: f.version, firstSeen: now };
        this.seen.set(f.path, track);
      }
      const sha = this.state.shaOf(f.version);
      if (sha !== undefined && (await this.handledAlready(f, sha))) continue;
      // the last change by the file's own clock, unless that is in the future
      const changed = Number((f.st.ctimeNs > f.st.mtimeNs ? f.st.ctimeNs : f.st.mtimeNs) / 1_000_000n);
      const quietSince = changed <= now ? Math.max(changed, 0) : track.firstSeen;
      const left = quietSince + this.o.settleMs - now;
      if (left > 0) {
        next = Math.min(next, left + 10);
        continue;
      }
      ready.push(f);
    }
    if (ready.length === 0) return { next };
    // oldest first: audit trails and rotated captures arrive in the order they were written
    ready.sort((a, b) =>
      a.st.mtimeNs < b.st.mtimeNs ? -1 : a.st.mtimeNs > b.st.mtimeNs ? 1 : a.path < b.path ? -1 : 1,
    );
    const writers = await openForWriting(ready);
    for (const f of ready) {
      if (this.stopping) break;
      const pid = writers.get(f.version);
      if (pid !== undefined) {
        if (this.todo) this.abandon(f.path, `is open for writing (process ${pid})`, false);
        else {
          this.tell(f, "open", `${f.path} is open for writing (process ${pid}); it is shipped once closed`);
          next = Math.min(next, this.o.settleMs);
        }
        continue;
      }
      let sha = this.state.shaOf(f.version);
      if (sha === undefined) {
        const h = await hashFile(f, () => this.stopping);
        if (h === null) {
          next = Math.min(next, this.o.settleMs);
          continue;
        }
        if (h instanceof Error) {
          this.unreadable(f, h);
          continue;
        }
        sha = h;
        this.state.rememberHash(f.version, sha);
      }
      if (await this.handledAlready(f, sha)) continue;
      const r = await blobCall(this.o.via, f);
      if (r.ok) {
        await this.state.record(entry("shipped", f, sha));
        this.stats.sent++;
        this.todo?.delete(f.path);
        continue;
      }
      if ("changed" in r) {
        this.o.warn(
          `${f.path} changed before or while it was sent (${r.why}); its new content is sent once it settles`,
        );
        if (this.todo) this.abandon(f.path, "changed while it was sent", false);
        next = Math.min(next, this.o.settleMs);
        continue;
      }
      if (r.final) {
        await this.state.record({ ...entry("failed", f, sha), reason: r.why });
        this.stats.refused++;
        this.o.warn(`the collector refused ${f.path} for good (${r.why}); it is not sent again`);
        if (this.todo) this.abandon(f.path, `the collector refused it: ${r.why}`, true);
        continue;
      }
      return { next, failed: `sending ${f.path} failed (${r.why})` };
    }
    return { next };
  }

  /** True if this content was shipped or refused before (then nothing more is done). */
  private async handledAlready(f: Candidate, sha: string): Promise<boolean> {
    if (this.state.isShipped(sha)) {
      if (!this.state.hasEntry(f.version)) {
        // a copy or a new name of a shipped content: remembered, so it is not hashed again
        await this.state.record(entry("known", f, sha));
        this.stats.known++;
      }
      this.todo?.delete(f.path);
      return true;
    }
    const failed = this.state.failure(sha);
    if (failed) {
      this.tell(
        f,
        "refused",
        `${f.path} is not sent: the collector refused the same content (${failed.path}) for good (${failed.reason}); --retry-failed offers it again`,
      );
      this.todo?.delete(f.path);
      return true;
    }
    return false;
  }

  private unreadable(f: Candidate, err: Error): void {
    const msg = ioError("read", f.path, err).message;
    if (this.todo) this.abandon(f.path, msg.replace(/\.$/, ""), true);
    this.tell(f, "unreadable", msg);
  }
}
