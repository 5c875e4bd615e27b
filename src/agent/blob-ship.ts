// `logward ship --blob PATH / --blob-dir DIR`: ships files whole, once they are complete, each
// content exactly once (by SHA-256), to one stream of the collector (`logward.Blob+STREAM`).
//
// Complete: the file version (device, inode, size, mtime, ctime) has not changed for the settle
// time, and no process has it open for writing (Linux: /proc/PID/fd, only for the files that
// passed the settle time; as root that is every process, otherwise only the user's own). The
// quiet time counts from the file's own ctime (any write or metadata change moves it), so a file
// closed long ago is complete at first sight; from when it was first seen if its ctime is in the
// future.
//
// One blob call = one run of the `--via` command with the file itself as its standard input (an
// open file descriptor, not a pipe): the kernel streams it, nothing is held in memory, and a
// kill -9 of ship cannot cut the object short, because the command keeps reading the file to its
// end without ship (it runs in its own process group; ship never kills it either). The command
// exits 0 once the object and its `!blob` record are durable, or when the collector already holds
// that SHA-256 in the stream. Only then is the content written to the state (blob-state.ts), with
// an fdatasync: a crash in between sends it again and the collector keeps it once.
//
// A file is hashed (SHA-256, streamed) once per version and again never (the state remembers
// versions), and checked unchanged before and after hashing and before and after sending; a
// file that changed while it was sent is sent again, as its new content, once it settles. A
// content already shipped (a copy, a rename, a rotated name) is not sent again.
//
// A failed call is retried with backoff, except a refusal that can never succeed (the
// collector's message says the object is too large): it is written to the state as failed,
// reported, and the next file goes.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  type BigIntStats,
  type FSWatcher,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  watch,
} from "node:fs";
import { mkdir, open, readdir, realpath, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ioError, LogwardError } from "../errors.ts";
import { acquireStoreLock, type StoreLock } from "../store/lock.ts";
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

/** Names in a --blob-dir that are never shipped: hidden files and names of files being written. */
export function ignoredName(name: string): boolean {
  return name.startsWith(".") || /\.(tmp|part|partial|swp)$|~$/i.test(name);
}

/** A file version: what must stay equal for a file to be the same bytes. */
export function versionOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

export interface Candidate {
  path: string;
  st: BigIntStats;
  version: string;
}

interface Track {
  version: string;
  firstSeen: number;
}

type SendResult =
  | { ok: true }
  | { ok: false; final: boolean; why: string }
  | { ok: false; changed: true; why: string };

/** The state entry of a file version whose content is `sha256`. */
function entry(t: EntryKind, f: Candidate, sha256: string): Omit<BlobEntry, "at"> {
  return { t, sha256, size: Number(f.st.size), file: f.version, path: f.path };
}

/** A refusal that will never succeed: the collector says the object is over its limit (max_blob). */
const TOO_LARGE = /too large|larger than max_blob/i;

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

  /** The regular files named or found now. */
  private async list(): Promise<Candidate[]> {
    const out: Candidate[] = [];
    const add = async (path: string) => {
      const st = await stat(path, { bigint: true }).catch(() => null);
      if (st?.isFile()) out.push({ path, st, version: versionOf(st) });
    };
    for (const p of this.o.paths) await add(p);
    for (const d of this.o.dirs) {
      let names: import("node:fs").Dirent[];
      try {
        names = await readdir(d, { withFileTypes: true });
      } catch (err) {
        this.o.warn(ioError("read the directory", d, err).message);
        continue;
      }
      // regular files only: a symbolic link could point anywhere, a subdirectory is not walked
      for (const e of names) if (e.isFile() && !ignoredName(e.name)) await add(join(d, e.name));
    }
    return out;
  }

  /**
   * One look at every file: ships what is complete. Returns when to look again (ms), or why a
   * call failed (then the caller backs off).
   */
  private async pass(): Promise<{ next: number; failed?: string }> {
    const files = await this.list();
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
        const h = await this.hash(f);
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
      const r = await this.send(f);
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

  /** SHA-256 of the file's bytes, or null if it changed meanwhile, or the error reading it. */
  private async hash(f: Candidate): Promise<string | null | Error> {
    let fh: import("node:fs/promises").FileHandle | undefined;
    try {
      fh = await open(f.path, "r");
      if (versionOf(await fh.stat({ bigint: true })) !== f.version) return null;
      const h = createHash("sha256");
      const buf = Buffer.allocUnsafe(1024 * 1024);
      let pos = 0;
      for (;;) {
        if (this.stopping) return null;
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
      if (versionOf(await fh.stat({ bigint: true })) !== f.version || BigInt(pos) !== f.st.size) return null;
      return h.digest("hex");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      return err as Error;
    } finally {
      await fh?.close();
    }
  }

  /** One blob call: the via command with the file as its standard input. */
  private async send(f: Candidate): Promise<SendResult> {
    let fh: import("node:fs/promises").FileHandle;
    try {
      fh = await open(f.path, "r");
    } catch (err) {
      return { ok: false, changed: true, why: (err as Error).message };
    }
    try {
      if (versionOf(await fh.stat({ bigint: true })) !== f.version) {
        return { ok: false, changed: true, why: "changed before it was sent" };
      }
      // its own process group: a Ctrl-C or a kill of ship does not cut the object short
      const child = spawn("sh", ["-c", this.o.via], { stdio: [fh.fd, "ignore", "pipe"], detached: true });
      let tail = "";
      child.stderr!.on("data", (d: Buffer) => {
        process.stderr.write(d);
        tail = (tail + d.toString("utf8")).slice(-4096);
      });
      const end = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
        (resolve) => {
          child.once("error", (error) => resolve({ code: null, signal: null, error }));
          child.once("close", (code, signal) => resolve({ code, signal }));
        },
      );
      if (end.error)
        return { ok: false, final: false, why: `cannot run '${this.o.via}': ${end.error.message}` };
      const after = versionOf(await fh.stat({ bigint: true }));
      if (end.code === 0) {
        return after === f.version ? { ok: true } : { ok: false, changed: true, why: "changed while sent" };
      }
      const said =
        tail
          .trim()
          .split("\n")
          .at(-1)
          ?.replace(/^logward: /, "") ?? "";
      const why = `'${this.o.via}' exited with ${end.code ?? end.signal}${said ? `: ${said}` : ""}`;
      return { ok: false, final: TOO_LARGE.test(tail), why };
    } finally {
      await fh.close();
    }
  }
}

/**
 * Which of the files some process holds open for writing (version -> pid): /proc/PID/fd links
 * are compared with the files' real paths, and only a match has its fdinfo flags read. Without
 * /proc (not Linux) nothing is found; processes of other users are skipped unless run as root.
 */
export async function openForWriting(files: readonly Candidate[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const want = new Map<string, Candidate>();
  for (const f of files) {
    const real = await realpath(f.path).catch(() => null);
    if (real) want.set(real, f);
  }
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const f = want.get(target);
      if (!f) continue;
      try {
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "latin1"));
        if (!flags || (Number.parseInt(flags[1]!, 8) & 3) === 0) continue; // O_RDONLY
        const st = statSync(`/proc/${pid}/fd/${fd}`, { bigint: true });
        if (st.dev === f.st.dev && st.ino === f.st.ino) found.set(f.version, Number(pid));
      } catch {}
    }
    // the scan is synchronous per process; let the rest of the program run between processes
    await new Promise<void>((r) => setImmediate(r));
  }
  return found;
}
