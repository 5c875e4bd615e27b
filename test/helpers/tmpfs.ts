// A small real filesystem for tests of a full disk: a tmpfs mounted in a temporary directory,
// unmounted when the test file ends. Needs root; returns null (the test skips) otherwise.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

export function mountTmpfs(size: string, prefix: string): string | null {
  if (process.getuid?.() !== 0) return null;
  const mnt = mkdtempSync(join(tmpdir(), prefix));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt], { stdio: "ignore" });
  } catch {
    rmSync(mnt, { recursive: true });
    return null;
  }
  after(() => {
    execFileSync("umount", [mnt]);
    rmSync(mnt, { recursive: true });
  });
  return mnt;
}

/** Fills the filesystem of `path` with one file until the disk is full. */
export function fill(path: string): void {
  const fd = openSync(path, "w");
  const block = Buffer.alloc(4096, 0x66);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}
