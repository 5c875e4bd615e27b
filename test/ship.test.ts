// logward ship end to end: real `ship`, real `serve`, the channel a real `logward ingest` run
// as qrexec runs it (--via), kills at random moments, rotation, a collector that is down, a
// full spool, a syslog flood.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN, logward } from "./helpers/cli.ts";
import { serve } from "./helpers/daemon.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

function via(store: string, origin = "work", stream = "app"): string {
  return `QREXEC_REMOTE_DOMAIN=${origin} QREXEC_SERVICE_ARGUMENT=${stream} '${process.execPath}' '${BIN}' ingest --format agent --store '${store}'`;
}

/** Each check runs the CLI: a minute to get there, checked ten times a second. */
const SLOW_POLL = { ms: 60_000, everyMs: 100 };

const { running, collector, killPair, ship } = tracked();

async function raw(store: string, target: string): Promise<Buffer> {
  const r = await logward(["show", "--store", store, target, "--raw"]);
  return r.code === 0 ? r.stdout : Buffer.alloc(0);
}

/** Lines with numbers, odd bytes and an empty one now and then: LF-free, so one record each. */
function lines(from: number, to: number): Buffer {
  const parts: string[] = [];
  for (let i = from; i < to; i++) parts.push(i % 997 === 0 ? "" : `${i} \x1b[31m ${"x".repeat(i % 50)}\r`);
  return Buffer.from(`${parts.join("\n")}\n`, "latin1");
}

const gapCounts = (recs: { kind: string; payload: Buffer }[]) =>
  recs
    .filter((r) => r.kind === "!gap")
    .map((r) => Number(/^(\d+) records? dropped at the sender/.exec(r.payload.toString())![1]));

describe("logward ship", { timeout: 300_000 }, () => {
  test("kill -9 of ship and of serve during a 200,000-record file: show --raw equals the file", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const file = join(dir, "app.log");
    const spool = join(dir, "spool");
    const args = ["--file", file, "--stream", "app", "--via", via(store), "--spool", spool];
    writeFileSync(file, lines(0, 50_000));
    const pair = await killPair(store, args);
    let kills = 0;
    // the file grows while both sides are killed at random moments
    for (let chunk = 1; chunk <= 15; chunk++) {
      appendFileSync(file, lines(50_000 + (chunk - 1) * 10_000, 50_000 + chunk * 10_000));
      await sleep(100 + Math.random() * 300);
      await pair.kill(Math.random() < 0.5 ? "ship" : "serve");
      kills++;
    }
    await pair.finish();
    const want = readFileSync(file);
    const got = await raw(store, "work/app");
    await pair.daemon.stop();
    assert.ok(kills >= 15);
    if (!got.equals(want)) {
      // name the first line that differs, with the stored records around it
      const g = got.toString("latin1").split("\n");
      const w = want.toString("latin1").split("\n");
      const i = g.findIndex((line, k) => line !== w[k]);
      const recs = (await readAll(store, "work", "app")).filter((r) => r.kind === "." || r.kind === "!open");
      const near = recs.filter((r) => r.kind !== ".").map((r) => r.payload.toString().slice(0, 60));
      // keep the evidence: the store and the spool, for a person to look at
      const kept = mkdtempSync(join(tmpdir(), "logward-ship-failure-"));
      cpSync(dir, kept, { recursive: true });
      assert.fail(
        `evidence in ${kept}; ` +
          `line ${i} differs: got ${JSON.stringify(g.slice(i - 2, i + 2))}, want ${JSON.stringify(w.slice(i - 2, i + 2))}; ${near.length} sessions; ${pair.sender.err().slice(-2000)}`,
      );
    }
    assert.equal(got.length, want.length, "the same number of bytes");
    assert.ok(got.equals(want), "every line once, in order");
    const recs = await readAll(store, "work", "app");
    assert.equal(gapCounts(recs).length, 0, "nothing was dropped");
  });

  test("the collector down: records wait in the spool and all arrive", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const file = join(dir, "app.log");
    writeFileSync(file, lines(0, 5000));
    const s = ship([
      "--file",
      file,
      "--stream",
      "app",
      "--via",
      via(store),
      "--spool",
      join(dir, "spool"),
      "--once",
    ]);
    await sleep(1500);
    assert.match(s.err(), /No collector is running/);
    assert.match(s.err(), /the channel to the collector closed .*; trying again in \d+ ms/);
    const d = await collector(store);
    assert.equal(await s.exited, 0, s.err());
    assert.ok((await raw(store, "work/app")).equals(readFileSync(file)));
    await d.stop();
  });

  for (const policy of ["drop-oldest", "drop-newest"] as const) {
    test(`a full spool (${policy}): the exact dropped count reaches the collector as a gap`, async () => {
      const dir = tempDir();
      const store = join(dir, "store");
      const file = join(dir, "app.log");
      const total = 30_000;
      const text = Array.from({ length: total }, (_, i) => `${String(i).padStart(6, "0")} ${"y".repeat(90)}`);
      writeFileSync(file, `${text.join("\n")}\n`);
      const s = ship([
        ...["--file", file, "--stream", "app", "--via", via(store), "--spool", join(dir, "spool")],
        ...["--spool-max", "1MiB", "--spool-policy", policy, "--once"],
      ]);
      await sleep(2000); // the whole file is read into a spool that holds about a third of it
      const d = await collector(store);
      assert.equal(await s.exited, 0, s.err());
      const recs = await readAll(store, "work", "app");
      await d.stop();
      const got = recs.filter((r) => r.kind === ".").map((r) => r.payload.toString());
      const dropped = gapCounts(recs).reduce((a, b) => a + b, 0);
      assert.ok(dropped > 0 && got.length < total, "the spool limit was reached");
      assert.equal(got.length + dropped, total, "every record is either stored or counted in a gap");
      // drop-oldest keeps the newest records, drop-newest the oldest; each kept run is contiguous
      const expect = policy === "drop-oldest" ? text.slice(total - got.length) : text.slice(0, got.length);
      assert.deepEqual(got, expect);
      assert.equal(gapCounts(recs).length, 1, "one gap record for one full period");
    });
  }

  test("rotation by rename and by copy-truncate while shipping: nothing lost", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const file = join(dir, "app.log");
    const d = await collector(store);
    writeFileSync(file, lines(0, 3000));
    const s = ship(["--file", file, "--stream", "app", "--via", via(store), "--spool", join(dir, "spool")]);
    const count = async () => (await raw(store, "work/app")).toString("latin1").split("\n").length - 1;
    await until("the first lines", async () => (await count()) >= 1000, SLOW_POLL);
    // logrotate's default: rename, the writer goes on in a new file
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, lines(3000, 3500)); // written to the old inode after the rename
    writeFileSync(file, lines(3500, 6000));
    await until("the renamed file and the new one", async () => (await count()) === 6000, SLOW_POLL);
    // copytruncate: copy, then truncate in place; the writer goes on at offset 0
    copyFileSync(file, `${file}.2`);
    truncateSync(file, 0);
    appendFileSync(file, lines(6000, 6100));
    await until("the truncated file", async () => (await count()) === 6100, SLOW_POLL);
    s.proc.kill("SIGTERM");
    assert.equal(await s.exited, 0, s.err());
    const want = Buffer.concat([lines(0, 3000), lines(3000, 3500), lines(3500, 6000), lines(6000, 6100)]);
    assert.ok((await raw(store, "work/app")).equals(want));
    assert.match(s.err(), /was truncated; reading it again from the start/);
    await d.stop();
  });

  test("a syslog datagram flood: no crash, bounded memory, drops counted", async (t) => {
    if (spawnSync("python3", ["--version"]).status !== 0) {
      t.skip("python3 is not installed");
      return;
    }
    const dir = tempDir();
    const store = join(dir, "store");
    const sock = join(dir, "log.sock");
    const s = ship([
      ...["--syslog-socket", sock, "--stream", "syslog", "--via", via(store, "work", "syslog")],
      ...["--spool", join(dir, "spool"), "--spool-max", "1MiB", "--spool-policy", "drop-newest"],
    ]);
    await until("the socket", async () => spawnSync("test", ["-S", sock]).status === 0, {
      ...SLOW_POLL,
      ms: 10_000,
    });
    const total = 100_000;
    const flood = spawnSync(
      "python3",
      [
        "-c",
        `import socket,sys
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)
s.connect(sys.argv[1])
for i in range(${total}):
    s.send(b"<13>Nov 25 10:00:00 personal sshd[1]: forged host %06d " % i + b"z"*150 + b"\\n")`,
        sock,
      ],
      { encoding: "utf8" },
    );
    assert.equal(flood.status, 0, flood.stderr);
    const rss =
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.proc.pid}/status`, "latin1"))![1]) / 1024;
    assert.ok(rss < 200, `peak RSS of ship ${rss} MiB`);
    const d = await collector(store);
    let recs: { kind: string; payload: Buffer }[] = [];
    await until(
      "every datagram stored or counted",
      async () => {
        recs = await readAll(store, "work", "syslog").catch(() => []);
        const n = recs.filter((r) => r.kind === ".").length;
        return n + gapCounts(recs).reduce((a, b) => a + b, 0) === total;
      },
      SLOW_POLL,
    );
    const kept = recs.filter((r) => r.kind === ".");
    assert.ok(kept.length < total, "the 1 MiB spool could not hold the flood");
    assert.equal(
      kept[0]!.payload.toString().slice(0, 60),
      "<13>Nov 25 10:00:00 personal sshd[1]: forged host 000000 zzz",
    );
    s.proc.kill("SIGTERM");
    assert.equal(await s.exited, 0, s.err());
    await d.stop();
  });

  test("--connect unix: a local socket whose origin the collector's config names; --stdin and --command", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const sock = join(dir, "host.sock");
    const d = await serve(store, `[collector]\nlocal = [{ path = "${sock}", origin = "host" }]\n`);
    running.add(d.proc);
    try {
      const viaStdin = spawn(
        process.execPath,
        [
          BIN,
          "ship",
          "--stdin",
          "--stream",
          "app",
          "--connect",
          `unix:${sock}`,
          "--spool",
          join(dir, "s1"),
          "--once",
        ],
        { stdio: ["pipe", "ignore", "pipe"] },
      );
      viaStdin.stdin.end("one\ntwo\nthree without LF");
      assert.equal(await new Promise((r) => viaStdin.once("exit", r)), 0);
      const cmd = await logward([
        ...["ship", "--command", "printf 'a\\nb\\n'", "--stream", "cmd"],
        ...["--connect", `unix:${sock}`, "--spool", join(dir, "s2"), "--once"],
      ]);
      assert.equal(cmd.code, 0, cmd.stderr);
      // the last line came without LF, and comes back without it (a U frame, then !nolf)
      assert.equal((await raw(store, "host/app")).toString(), "one\ntwo\nthree without LF");
      assert.equal((await raw(store, "host/cmd")).toString(), "a\nb\n");
      const open = (await readAll(store, "host", "app"))[0]!;
      assert.match(open.payload.toString(), /transport=local format=agent/);
    } finally {
      await d.stop();
    }
  });

  test("user errors: one sentence, a non-zero exit; a second ship on one spool is refused", async () => {
    const dir = tempDir();
    const f = join(dir, "f.log");
    writeFileSync(f, "x\n");
    for (const [args, want] of [
      [["--via", "true"], /Name at least one source/],
      [["--file", f], /Name exactly one channel/],
      [["--file", f, "--via", "true", "--connect", "unix:/x"], /Name exactly one channel/],
      [["--file", f, "--connect", "tcp:1.2.3.4"], /--connect takes unix:/],
      [["--file", f, "--via", "true", "--spool-max", "10"], /--spool-max must be a size/],
      [["--file", f, "--via", "true", "--spool-policy", "drop-all"], /--spool-policy must be/],
      [["--file", f, "--via", "true", "--stream", "../x"], /--stream must be/],
      [["--file", f, "--via", "true", "--retry-max", "soon"], /--retry-max must be a duration/],
    ] as const) {
      const r = await logward(["ship", ...args, "--spool", join(dir, "spool")]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, want);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const first = ship(["--file", f, "--via", "sleep 30", "--spool", join(dir, "spool")]);
    await sleep(500);
    const second = await logward(["ship", "--file", f, "--via", "true", "--spool", join(dir, "spool")]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /Another logward ship \(process \d+\) is already using the spool/);
    first.proc.kill("SIGTERM");
    await first.exited;
  });
});
