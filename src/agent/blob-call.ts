// One blob call of `logward ship --blob/--blob-dir` (see blob-ship.ts): the `--via` command run
// with the file itself as its standard input (an open descriptor, not a pipe), in its own
// process group, and what its exit means: shipped, changed meanwhile, worth retrying, or a
// refusal that can never succeed.

import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import { type Candidate, versionOf } from "./blob-files.ts";

export type SendResult =
  | { ok: true }
  | { ok: false; final: boolean; why: string }
  | { ok: false; changed: true; why: string };

/** A refusal that will never succeed: the collector says the object is over its limit (max_blob). */
const TOO_LARGE = /too large|larger than max_blob/i;

/** One blob call: the `via` command with the file as its standard input. */
export async function blobCall(via: string, f: Candidate): Promise<SendResult> {
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
    const child = spawn("sh", ["-c", via], { stdio: [fh.fd, "ignore", "pipe"], detached: true });
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
    if (end.error) return { ok: false, final: false, why: `cannot run '${via}': ${end.error.message}` };
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
    const why = `'${via}' exited with ${end.code ?? end.signal}${said ? `: ${said}` : ""}`;
    return { ok: false, final: TOO_LARGE.test(tail), why };
  } finally {
    await fh.close();
  }
}
