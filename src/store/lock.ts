// The store's writer lock. Only one process may write a store (DESIGN.md): we hold an exclusive
// SQLite lock on <store>/run/writer.lock for the life of the writer. SQLite takes a POSIX
// fcntl() lock, which the kernel drops when the process dies, even by kill -9, so there is no
// stale lock to clean up and no PID-reuse race. Readers never take it.

import { chmodSync, closeSync, constants, lstatSync, openSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { LogwardError } from "../errors.ts";
import { readFileSyncNoFollow } from "./files.ts";
import { WRITER_LOCK_FILE, WRITER_PID_FILE, writerLockPath, writerPidPath } from "./layout.ts";
import { unsafePath } from "./names.ts";

const PID_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** LW_UNSAFE_PATH when `path` exists and is not a plain file (a planted link, a directory). */
function refuseNonFile(path: string, name: string): void {
  try {
    if (lstatSync(path).isFile()) return;
  } catch {
    return; // absent: created as a file
  }
  throw unsafePath(`${basename(dirname(path))}/${name}`, path);
}

const heldInThisProcess = new Set<string>();

export interface StoreLock {
  release(): void;
}

/**
 * Takes the writer lock of a store (`what` "store") or of a sender's spool ("spool"): the
 * same guarantee, one process at a time, for both.
 */
export function acquireStoreLock(runDir: string, root: string, what: "store" | "spool" = "store"): StoreLock {
  const path = writerLockPath(runDir);
  const pidPath = writerPidPath(runDir);
  const refuse = (): never => {
    let holder = "";
    try {
      const pid = readFileSyncNoFollow(pidPath, "latin1").trim();
      if (/^\d+$/.test(pid)) holder = ` (process ${pid})`;
    } catch {}
    throw new LogwardError(
      "LW_STORE_LOCKED",
      what === "store"
        ? `Another logward process${holder} is already writing the store ${root}; stop it first or use another --store.`
        : `Another logward ship${holder} is already using the spool ${root}; stop it first or use another --spool.`,
    );
  };
  // fcntl locks are per process, so a second writer inside this process must be refused here.
  if (heldInThisProcess.has(path)) refuse();
  // SQLite follows links: a link planted as the lock (or its pid file) is refused first
  refuseNonFile(path, WRITER_LOCK_FILE);
  refuseNonFile(pidPath, WRITER_PID_FILE);
  const db = new DatabaseSync(path, { timeout: 0 });
  try {
    // journal in memory: the lock is on the file itself, and a journal file on disk would need
    // space, so a collector restarted on a full disk could not start to recover (issue 21)
    db.exec("PRAGMA journal_mode=MEMORY; PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;");
  } catch (err) {
    db.close();
    if ((err as { errcode?: number }).errcode === 5) refuse(); // SQLITE_BUSY
    throw err;
  }
  heldInThisProcess.add(path);
  // modes set here, not left to the umask (SQLite creates its file 0644 less the umask, and a
  // pid file written again keeps whatever mode it had): readable by the store's group only
  chmodSync(path, 0o640);
  try {
    const fd = openSync(pidPath, PID_FLAGS, 0o640); // O_NOFOLLOW: never written through a link
    try {
      writeFileSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    chmodSync(pidPath, 0o640); // not fchmod: Node's permission model disables it
  } catch (err) {
    // the pid only names the holder in refuse()'s message: a full disk must not stop a start
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOSPC" && code !== "EDQUOT") throw err;
  }
  return {
    release() {
      if (!heldInThisProcess.delete(path)) return;
      try {
        db.exec("ROLLBACK");
      } catch {}
      db.close();
    },
  };
}
