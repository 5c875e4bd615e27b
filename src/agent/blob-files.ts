// The files side of `logward ship --blob/--blob-dir` (see blob-ship.ts): which files there
// are, what a file version is, its SHA-256, and whether some process still has it open for
// writing. Nothing here decides or remembers anything: blob-ship.ts does.

import { createHash } from "node:crypto";
import { type BigIntStats, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { open, readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { ioError } from "../errors.ts";

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

/** The regular files named (`paths`) or found now in `dirs`; a directory that cannot be read is warned about. */
export async function listFiles(
  paths: readonly string[],
  dirs: readonly string[],
  warn: (message: string) => void,
): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const add = async (path: string) => {
    const st = await stat(path, { bigint: true }).catch(() => null);
    if (st?.isFile()) out.push({ path, st, version: versionOf(st) });
  };
  for (const p of paths) await add(p);
  for (const d of dirs) {
    let names: import("node:fs").Dirent[];
    try {
      names = await readdir(d, { withFileTypes: true });
    } catch (err) {
      warn(ioError("read the directory", d, err).message);
      continue;
    }
    // regular files only: a symbolic link could point anywhere, a subdirectory is not walked
    for (const e of names) if (e.isFile() && !ignoredName(e.name)) await add(join(d, e.name));
  }
  return out;
}

/**
 * SHA-256 of the file's bytes, or null if it changed meanwhile (or `stopping()` turned true), or
 * the error reading it.
 */
export async function hashFile(f: Candidate, stopping: () => boolean): Promise<string | null | Error> {
  let fh: import("node:fs/promises").FileHandle | undefined;
  try {
    fh = await open(f.path, "r");
    if (versionOf(await fh.stat({ bigint: true })) !== f.version) return null;
    const h = createHash("sha256");
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = 0;
    for (;;) {
      if (stopping()) return null;
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
