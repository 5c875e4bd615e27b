// logward ship --blob/--blob-dir end to end: real `ship`, real `serve`, the channel a real
// `logward ingest --format blob` run as qrexec runs it (--via); kills of either side at any
// moment; files still being written; copies and renames of shipped files.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN, logward } from "./helpers/cli.ts";
import { type Ship, tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

function via(store: string, stream = "evtx"): string {
  return `QREXEC_REMOTE_DOMAIN=win QREXEC_SERVICE_ARGUMENT=${stream} '${process.execPath}' '${BIN}' ingest --format blob --store '${store}'`;
}

/** Each check runs the CLI: a minute to get there, checked ten times a second. */
const SLOW_POLL = { ms: 60_000, everyMs: 100 };

const { running, collector, killPair, ship: shipArgs } = tracked();

function ship(args: string[]): Ship {
  return shipArgs(["--stream", "evtx", ...args]);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Blob {
  seq: number;
  sha: string;
  size: number;
}

/** The stream's `!blob` records, and how many calls it had (`!open`) and ended (`!close`). */
async function blobs(store: string): Promise<{ blobs: Blob[]; opens: number; closes: number }> {
  const recs = await readAll(store, "win", "evtx").catch(() => []);
  const out: Blob[] = [];
  for (const r of recs) {
    if (r.kind !== "!blob") continue;
    const m = /sha256=([0-9a-f]{64}) size=(\d+)/.exec(r.payload.toString())!;
    out.push({ seq: r.seq, sha: m[1]!, size: Number(m[2]) });
  }
  const count = (kind: string) => recs.filter((r) => r.kind === kind).length;
  return { blobs: out, opens: count("!open"), closes: count("!close") };
}

/** Every file's content is announced exactly once, nothing else is, and `get` returns its bytes. */
async function assertExactlyOnce(store: string, files: Buffer[], dir: string): Promise<void> {
  const { blobs: got } = await blobs(store);
  const want = new Map(files.map((b) => [sha256(b), b]));
  assert.deepEqual(got.map((b) => b.sha).sort(), [...want.keys()].sort(), "one !blob per content, no other");
  for (const b of got) {
    const out = join(dir, `got-${b.seq}`);
    const r = await logward(["get", "--store", store, `win/evtx`, String(b.seq), "-o", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(out).equals(want.get(b.sha)!), `object ${b.seq} has the file's bytes`);
  }
}

/** A new directory holding the store (not yet created) and the source directory `name` for --blob-dir. */
function blobDirs(name: string): { dir: string; store: string; src: string } {
  const dir = tempDir();
  const src = join(dir, name);
  mkdirSync(src);
  return { dir, store: join(dir, "store"), src };
}

describe("logward ship --blob-dir", { timeout: 300_000 }, () => {
  test("--once ships each file once; again: nothing; a copy and a rename: nothing; a new content: once", async () => {
    const { dir, store, src } = blobDirs("evtx");
    const evtx = Buffer.concat([Buffer.from("ElfFile\0", "latin1"), randomBytes(200_000)]);
    const binary = randomBytes(3 * 1024 * 1024 + 17);
    const text = Buffer.from("header\nline with \x1b[31m escape\n");
    writeFileSync(join(src, "Security.evtx"), evtx);
    writeFileSync(join(src, "capture.pcap"), binary);
    writeFileSync(join(src, "notes name with spaces.txt"), text);
    // never shipped: hidden, temporary and partial names, an empty file, a subdirectory's file
    for (const n of [".hidden", "export.tmp", "download.part", "half.partial", "empty.log"]) {
      writeFileSync(join(src, n), n === "empty.log" ? "" : `skip ${n}`);
    }
    mkdirSync(join(src, "sub"));
    writeFileSync(join(src, "sub", "deeper.bin"), "not walked");
    const d = await collector(store);
    const args = ["--blob-dir", src, "--via", via(store), "--spool", join(dir, "spool"), "--settle", "1s"];
    const first = ship([...args, "--once"]);
    assert.equal(await first.exited, 0, first.err());
    await assertExactlyOnce(store, [evtx, binary, text], dir);
    assert.equal((await blobs(store)).opens, 3, "one call per file");

    const again = ship([...args, "--once"]);
    assert.equal(await again.exited, 0, again.err());
    assert.equal((await blobs(store)).opens, 3, "a second run sends nothing");

    renameSync(join(src, "Security.evtx"), join(src, "Security-2026-11-26.evtx"));
    copyFileSync(join(src, "capture.pcap"), join(src, "capture-copy.pcap"));
    const renamed = ship([...args, "--once"]);
    assert.equal(await renamed.exited, 0, renamed.err());
    assert.equal((await blobs(store)).opens, 3, "a renamed file and a copy are not sent again");

    const more = Buffer.concat([text, Buffer.from("one more line\n")]);
    writeFileSync(join(src, "notes name with spaces.txt"), more);
    const changed = ship([...args, "--once"]);
    assert.equal(await changed.exited, 0, changed.err());
    assert.equal((await blobs(store)).opens, 4);
    await assertExactlyOnce(store, [evtx, binary, text, more], dir);
    await d.stop();
  });

  test("a file still being written, or open for writing, is shipped only once complete", async () => {
    const { dir, store, src } = blobDirs("pcap");
    const d = await collector(store);
    const s = ship([
      ...["--blob-dir", src, "--via", via(store), "--spool", join(dir, "spool"), "--settle", "2s"],
    ]);
    const growing = join(src, "growing.pcap");
    const held = join(src, "held.bin");
    writeFileSync(held, randomBytes(1000));
    // a writer that keeps the file open, silent: the settle time passes, the open file holds it back
    const holder = spawn("sh", ["-c", `exec 3>>'${held}'; exec sleep 60`], { stdio: "ignore" });
    running.add(holder);
    // a writer of its own, appending every 0.2 s for 5 s, so the test's own pace cannot pause it
    const writer = spawn(
      "sh",
      ["-c", `for i in $(seq 25); do head -c 10000 /dev/urandom >> '${growing}'; sleep 0.2; done`],
      { stdio: "ignore" },
    );
    running.add(writer);
    const written = new Promise((r) => writer.once("exit", r));
    let writing = true;
    void written.then(() => {
      writing = false;
    });
    while (writing) {
      assert.equal((await blobs(store)).blobs.length, 0, "nothing shipped while it is written or held open");
      await sleep(200);
    }
    const content = readFileSync(growing);
    assert.equal(content.length, 250_000);
    await until(
      "the growing file, once settled",
      async () => (await blobs(store)).blobs.length === 1,
      SLOW_POLL,
    );
    assert.equal((await blobs(store)).blobs[0]!.sha, sha256(content));
    await sleep(1500);
    assert.equal((await blobs(store)).blobs.length, 1, "the held file waits for its writer");
    assert.match(s.err(), /held\.bin is open for writing \(process \d+\)/);
    holder.kill("SIGKILL");
    await until("the held file, once closed", async () => (await blobs(store)).blobs.length === 2, SLOW_POLL);
    // a new content under a watched name is shipped again, once
    appendFileSync(growing, "tail");
    await until("the grown file", async () => (await blobs(store)).blobs.length === 3, SLOW_POLL);
    s.proc.kill("SIGTERM");
    assert.equal(await s.exited, 0, s.err());
    await assertExactlyOnce(
      store,
      [content, readFileSync(held), Buffer.concat([content, Buffer.from("tail")])],
      dir,
    );
    assert.equal((await blobs(store)).opens, 3, "each content sent once");
    await d.stop();
  });

  test("kill -9 of ship after the collector's durable ack, before its state is written: one !blob", async () => {
    const { dir, store, src } = blobDirs("audit");
    const trail = randomBytes(500_000);
    writeFileSync(join(src, "20261126000000.20261126120000"), trail);
    const d = await collector(store);
    const args = ["--blob-dir", src, "--spool", join(dir, "spool"), "--settle", "1s", "--once"];
    // the via command's shell is ship's child: once ingest says durable, it kills ship (its
    // parent) before ship sees the exit status and writes its state
    const killer = ship([...args, "--via", `${via(store)} && kill -9 $PPID`]);
    assert.equal(await killer.exited, null, "ship was killed");
    assert.equal((await blobs(store)).blobs.length, 1);
    const rerun = ship([...args, "--via", via(store)]);
    assert.equal(await rerun.exited, 0, rerun.err());
    const { blobs: got, opens } = await blobs(store);
    assert.equal(opens, 2, "the rerun sent it again (its state did not have it)");
    assert.equal(got.length, 1, "and the collector kept it once");
    // a kill before the ack that fails the call: nothing was recorded, the file still goes
    const lost = randomBytes(1000);
    writeFileSync(join(src, "20261126120000.20261126130000"), lost);
    const failed = ship([...args, "--via", "kill -9 $PPID; exit 1"]);
    assert.equal(await failed.exited, null);
    const last = ship([...args, "--via", via(store)]);
    assert.equal(await last.exited, 0, last.err());
    await assertExactlyOnce(store, [trail, lost], dir);
    await d.stop();
  });

  test("kill -9 of ship and of serve mid-send, again and again: every file exactly once", async () => {
    const { dir, store, src } = blobDirs("evtx");
    const files: Buffer[] = [];
    for (let i = 0; i < 16; i++) {
      const b = randomBytes(4 * 1024 * 1024 + i);
      files.push(b);
      writeFileSync(join(src, `Application-${i}.evtx`), b);
    }
    const args = ["--blob-dir", src, "--via", via(store), "--spool", join(dir, "spool"), "--settle", "1s"];
    await sleep(1000); // settled from the start: the sends begin at once
    const pair = await killPair(store, args, ship);
    let kills = 0;
    for (let round = 0; round < 12; round++) {
      await sleep(100 + Math.random() * 300);
      await pair.kill(round % 2 === 0 ? "ship" : "serve");
      kills++;
    }
    await pair.finish();
    assert.equal(kills, 12);
    await assertExactlyOnce(store, files, dir);
    // the kills hit calls under way: some contents were sent more than once (a call cut off
    // by serve's death, or finished by the orphaned command and sent again by the next ship)
    const { opens, closes } = await blobs(store);
    assert.ok(opens > files.length, `${opens} calls for ${files.length} files, ${closes} closed`);
    await pair.daemon.stop();
  });

  test("SIGTERM during a call: the call finishes and is recorded before ship exits (--blob PATH)", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const file = join(dir, "trail.bsm");
    const bytes = randomBytes(40 * 1024 * 1024);
    writeFileSync(file, bytes);
    const d = await collector(store);
    const args = ["--blob", file, "--via", via(store), "--spool", join(dir, "spool"), "--settle", "1s"];
    const s = ship(args);
    await until("the call under way", async () => (await blobs(store)).opens === 1, SLOW_POLL);
    s.proc.kill("SIGTERM");
    assert.equal(await s.exited, 0, s.err());
    assert.equal((await blobs(store)).blobs.length, 1, "the call finished");
    const again = ship([...args, "--once"]);
    assert.equal(await again.exited, 0, again.err());
    assert.equal((await blobs(store)).opens, 1, "and was recorded: nothing is sent again");
    await assertExactlyOnce(store, [bytes], dir);
    await d.stop();
  });

  test("an object over the collector's max_blob: refused for good, reported, not retried; the rest goes", async () => {
    const { dir, store, src } = blobDirs("pcap");
    const small = randomBytes(1000);
    writeFileSync(join(src, "small.pcap"), small);
    writeFileSync(join(src, "huge.pcap"), randomBytes(2 * 1024 * 1024));
    const d = await collector(store, '[store]\nmax_blob = "1MiB"\n');
    const args = [
      "--blob-dir",
      src,
      "--via",
      via(store),
      "--spool",
      join(dir, "spool"),
      "--settle",
      "1s",
      "--once",
    ];
    const first = ship(args);
    assert.equal(await first.exited, 1, first.err());
    assert.match(first.err(), /the collector refused .*huge\.pcap for good/);
    assert.match(
      first.err().trim().split("\n").at(-1)!,
      /^logward: 1 file was not shipped \(.*huge\.pcap: the collector refused it: .*max_blob.*\); see the messages above\.$/,
    );
    await assertExactlyOnce(store, [small], dir);
    // a refused call's records may land after ship has moved on: count once they are all there
    const settled = async () => {
      await until(
        "every call closed",
        async () => {
          const b = await blobs(store);
          return b.opens === b.closes;
        },
        SLOW_POLL,
      );
      return (await blobs(store)).opens;
    };
    const opens = await settled();
    const again = ship(args);
    assert.equal(await again.exited, 0, again.err());
    assert.match(again.err(), /huge\.pcap is not sent: the collector refused the same content .* for good/);
    assert.equal(await settled(), opens, "not offered again");
    const retry = ship([...args, "--retry-failed"]);
    assert.equal(await retry.exited, 1, retry.err());
    // (at least once: a refusal that reaches ingest as a broken connection is retried first)
    assert.ok((await settled()) > opens, "--retry-failed offers it again");
    await d.stop();
  });

  test("the Qubes unit calls logward.Blob and signals ship alone, so a call under way is never cut", () => {
    const unit = readFileSync(
      join(BIN, "../../packaging/qubes/sender/systemd/logward-ship-blob@.service"),
      "utf8",
    );
    assert.match(
      unit,
      /logward ship \$LOGWARD_BLOBS --stream %i .*--via "qrexec-client-vm \$LOGWARD_LOGVM logward\.Blob\+%i"/,
    );
    assert.match(unit, /^KillMode=mixed$/m);
  });

  test("user errors: one sentence, a non-zero exit", async () => {
    const dir = tempDir();
    const f = join(dir, "f.bin");
    writeFileSync(f, "x");
    const spool = ["--spool", join(dir, "spool")];
    for (const [args, code, want] of [
      [["--blob", f, "--file", f, "--via", "true"], 2, /cannot be combined with --file/],
      [["--blob-dir", dir, "--journal", "--via", "true"], 2, /cannot be combined with --journal/],
      [["--blob", f], 2, /--blob and --blob-dir need --via 'CMD'/],
      [["--blob", f, "--connect", "unix:/x"], 2, /--blob and --blob-dir need --via 'CMD'/],
      [["--blob", f, "--via", "true", "--settle", "soon"], 2, /--settle must be a duration/],
      [
        ["--blob", f, "--via", "true", "--spool-max", "1GiB"],
        2,
        /--spool-max and --spool-policy apply to record sources/,
      ],
      [["--file", f, "--via", "true", "--settle", "1s"], 2, /--settle and --retry-failed go with --blob/],
      [["--blob", dir, "--via", "true"], 2, /is a directory; name it with --blob-dir/],
      [["--blob-dir", f, "--via", "true"], 2, /is not a directory/],
      [
        ["--blob-dir", join(dir, "nope"), "--via", "true"],
        1,
        /Could not read the directory .*nope: it does not exist\./,
      ],
      [
        ["--blob", join(dir, "nope"), "--via", "true", "--once"],
        1,
        /1 file was not shipped \(.*nope: it does not exist/,
      ],
    ] as const) {
      const r = await logward(["ship", ...args, ...spool]);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
