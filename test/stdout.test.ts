// How the readers write standard output (src/query/emit.ts, StandardOutput): with write(2) on
// descriptor 1 rather than through process.stdout, which on a pipe is a net.Socket that costs a
// short `show` about 3 ms to make. What must hold whatever stdout is: every line arrives, in
// order, on a pipe, a file and a terminal; a reader that goes away (`| head`) ends the command
// quietly with exit 0; a non-blocking pipe that fills (EAGAIN, when whoever made the pipe set
// O_NONBLOCK on it) hands over to process.stdout, which waits, and nothing is lost or doubled.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { Store } from "../src/store/store.ts";
import { BIN, logward, onTerminal } from "./helpers/cli.ts";
import { manualClock } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const RECORDS = 20_000; // about 1.3 MB of show output: many times a pipe's 64 KiB
const root = tempDir();
const env = { ...process.env, LOGWARD_STORE: "" };

before(async () => {
  const clock = manualClock();
  const store = await Store.open(root, { clock });
  const w = await store.stream("vm", "main");
  for (let i = 0; i < RECORDS; i += 1000) {
    clock.advance(1000);
    w.appendRecords(Array.from({ length: 1000 }, (_, k) => Buffer.from(`record ${i + k} ${"x".repeat(20)}`)));
  }
  await w.waitDurable();
  await store.close();
});

/** The record numbers in show's output, which must be 0..RECORDS-1 in order. */
function numbers(text: string): number[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => Number(/ record (\d+) /.exec(l)?.[1]));
}
const ALL = Array.from({ length: RECORDS }, (_, i) => i);

describe("standard output of the readers", () => {
  test("a pipe and a file get every line, in order", async () => {
    const piped = await logward(["show", "vm", "--store", root]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.deepEqual(numbers(piped.stdout.toString()), ALL);
    const file = join(tempDir(), "out.txt");
    const r = spawnSync(
      "sh",
      ["-c", `"$0" "$1" show vm --store "$2" > "$3"`, process.execPath, BIN, root, file],
      {
        env,
      },
    );
    assert.equal(r.status, 0, String(r.stderr));
    assert.deepEqual(numbers(readFileSync(file, "utf8")), ALL);
  });

  test("a terminal gets the lines too", async () => {
    const shown = await onTerminal(["show", "vm", "--store", root]);
    assert.equal(shown.code, 0);
    assert.deepEqual(numbers(shown.screen.replaceAll("\r", "")), ALL);
  });

  test("a reader that goes away (| head) ends show, search, ls and alerts quietly with exit 0", () => {
    for (const args of [["show", "vm"], ["search", "record"], ["ls"], ["alerts"]]) {
      const r = spawnSync(
        "bash",
        [
          "-c",
          `"$0" "$@" --store "${root}" 2>"${root}/err" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`,
          process.execPath,
          BIN,
          ...args,
        ],
        { env, encoding: "utf8" },
      );
      assert.equal(r.stdout.trim(), "0", `${args[0]}: exit status`);
      assert.equal(readFileSync(join(root, "err"), "utf8"), "", `${args[0]}: nothing on stderr`);
    }
  });

  test("a non-blocking pipe that fills hands over to process.stdout: every line, once, in order", () => {
    // python makes the pipe, sets O_NONBLOCK on the write end, and reads only after a pause,
    // so that show's writes meet a full pipe (EAGAIN)
    const script = `
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w)
os.close(w)
time.sleep(1.0)
out = b""
while True:
    b = os.read(r, 65536)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
sys.exit(p.wait())
`;
    const r = spawnSync("python3", ["-c", script, process.execPath, BIN, "show", "vm", "--store", root], {
      env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(numbers(r.stdout), ALL);
  });
});
