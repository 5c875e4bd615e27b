// The store under resource faults (issue 21): a fatal store error ends `serve` with a non-zero
// exit (so systemd's Restart=on-failure restarts it), a full disk while a segment is sealed is
// not fatal, and one origin opening stream after stream exhausts neither file descriptors nor
// memory nor the other origins' service.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, logward } from "./helpers/cli.ts";
import { ALLOW_ROOT, type Daemon, ingest, rawSession, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { fill, mountTmpfs } from "./helpers/tmpfs.ts";

const exitOf = (d: Daemon, ms: number): Promise<number | null | "alive"> =>
  new Promise((resolve) => {
    if (d.proc.exitCode !== null) return resolve(d.proc.exitCode);
    const timer = setTimeout(() => resolve("alive"), ms);
    d.proc.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a fatal store error ends serve with a non-zero exit instead of leaving it up and refusing", {
  timeout: 60_000,
}, async () => {
  const store = join(tempDir("logward-fatal-"), "store");
  const d = await serve(store, `[store]\nsegment_size = "64KiB"\n`);
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
    assert.equal((await ingest(store, "lines", "first\n", env)).code, 0);
    // a directory where index.json must go: sealing the segment fails with EISDIR, an I/O
    // error that is not a full disk, so the store cannot go on (the first session wrote the
    // index, with the stream's type: it makes way for the directory)
    rmSync(join(store, "origins/vm/main/index.json"), { force: true });
    mkdirSync(join(store, "origins/vm/main/index.json/x"), { recursive: true });
    const big = `${"x".repeat(1000)}\n`.repeat(100);
    const r = await ingest(store, "lines", big, env);
    assert.notEqual(r.code, 0, "nothing after the failure is acknowledged");
    const code = await exitOf(d, 15_000);
    assert.notEqual(code, "alive", `serve must exit after a fatal store error: ${d.out()}`);
    assert.equal(code, 1);
    assert.match(d.out(), /the store failed/);
  } finally {
    if (d.proc.exitCode === null) await d.stop();
  }
});

test("a full disk while a segment is sealed (index.json) is waited out, not fatal", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-hostile-enospc-");
  if (!mnt) return t.skip("needs root and a tmpfs mount to make a small real filesystem");
  const store = join(mnt, "store");
  // segment_age 1s: the age timer seals the active segment while the disk is full, and sealing
  // writes index.json, which needs a page the disk does not have
  const d = await serve(store, `[collector]\nmin_free = "0B"\n[store]\nsegment_age = "1s"\n`);
  const filler = join(mnt, "filler");
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
    const before = Array.from({ length: 50 }, (_, i) => `before ${i}`);
    assert.equal((await ingest(store, "lines", `${before.join("\n")}\n`, env)).code, 0);
    fill(filler);
    await sleep(3000); // a few seals by age, each failing for lack of space
    const alive = await exitOf(d, 10);
    assert.equal(alive, "alive", `serve must survive a full disk while sealing: ${d.out()}`);
    rmSync(filler);
    const after = Array.from({ length: 50 }, (_, i) => `after ${i}`);
    const r = await ingest(store, "lines", `${after.join("\n")}\n`, env);
    assert.equal(r.code, 0, `ingest once space returned: ${r.stderr}`);
    const shown = await logward(["show", "vm/main", "--store", store, "--json"]);
    const payloads = shown.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; payload: string })
      .filter((x) => x.kind === "data")
      .map((x) => x.payload);
    assert.deepEqual(payloads, [...before, ...after]);
    // the seal that failed is written once space returned
    await sleep(1500);
    const index = JSON.parse(readFileSync(join(store, "origins/vm/main/index.json"), "utf8")) as {
      segments: unknown[];
    };
    assert.ok(index.segments.length >= 1, "index.json lists the sealed segment");
    assert.ok(readdirSync(join(store, "origins/vm/main")).length >= 2);
  } finally {
    rmSync(filler, { force: true });
    if (d.proc.exitCode === null) await d.stop();
  }
});

/** `logward serve` with at most `nofile` file descriptors (ulimit -n), as a tight systemd unit would run it. */
async function serveLimited(store: string, config: string, nofile: number): Promise<Daemon> {
  const file = join(store, "..", `config-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, config);
  const proc = spawn(
    "sh",
    [
      "-c",
      `ulimit -n ${nofile} && exec "$0" "$@"`,
      process.execPath,
      BIN,
      "serve",
      "--store",
      store,
      "--config",
      file,
      ...ALLOW_ROOT,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOGWARD_UI_PORT: "off" } },
  );
  let out = "";
  proc.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on("data", () => /ready/.test(out) && resolve());
    void exited.then((c) => reject(new Error(`serve exited with ${c}: ${out}`)));
  });
  return {
    proc,
    out: () => out,
    stop: async () => {
      proc.kill("SIGTERM");
      return exited;
    },
  };
}

/** One qrexec socket-service call of logward.Lines+STREAM from ORIGIN; resolves with the reply. */
function lines(sock: string, origin: string, stream: string, text: string): Promise<Buffer> {
  return rawSession(sock, Buffer.from(`logward.Lines+${stream} ${origin}\0${text}`)).done;
}

test("one origin opening stream after stream exhausts no file descriptors and no other origin", {
  timeout: 60_000,
}, async () => {
  const base = tempDir("logward-streams-");
  const store = join(base, "store");
  const sock = join(base, "q.sock");
  // the defaults, under a tight descriptor limit: 120 streams of one origin are more streams
  // than the process may have files open
  const d = await serveLimited(store, `[collector]\nqrexec_sockets = ["${sock}"]\n`, 64);
  try {
    for (let i = 0; i < 120; i++) await lines(sock, "flood", `s${i}`, `record of stream ${i}\n`);
    assert.equal(d.proc.exitCode, null, `serve must not die: ${d.out()}`);
    await lines(sock, "victim", "main", "the victim's evidence\n");
    for (let i = 0; i < 120; i += 17) await lines(sock, "flood", `s${i}`, `again ${i}\n`);
    assert.equal(await d.stop(), 0, d.out());
  } finally {
    if (d.proc.exitCode === null) await d.stop();
  }
  const victim = await logward(["show", "victim/main", "--store", store]);
  assert.match(victim.stdout.toString(), /the victim's evidence/);
  for (let i = 0; i < 120; i += 17) {
    const s = await logward(["show", `flood/s${i}`, "--store", store]);
    assert.match(s.stdout.toString(), new RegExp(`record of stream ${i}\\n[^]*again ${i}\\n`));
  }
  // each stream's directory and files count in its origin's quota, not only its record bytes
  const ls = JSON.parse((await logward(["ls", "--json", "--store", store])).stdout.toString()) as unknown;
  const flood = JSON.stringify(ls).match(/"origin":"flood"[^}]*"origin_bytes":(\d+)/);
  assert.ok(flood, `ls --json names flood's use: ${JSON.stringify(ls).slice(0, 400)}`);
  assert.ok(Number(flood[1]) >= 120 * 4096, `120 streams count at least 120 × 4 KiB, not ${flood[1]}`);
});

test("an origin over max_streams_per_origin is refused a new stream, with an alert; others go on", {
  timeout: 60_000,
}, async () => {
  const base = tempDir("logward-streamlimit-");
  const store = join(base, "store");
  const sock = join(base, "q.sock");
  const d = await serveLimited(
    store,
    `[collector]\nqrexec_sockets = ["${sock}"]\nmax_streams_per_origin = 8\n[store]\nmax_open_streams = 4\n`,
    1024,
  );
  try {
    for (let i = 0; i < 8; i++) await lines(sock, "flood", `s${i}`, `record ${i}\n`);
    const refused = await lines(sock, "flood", "s8", "one too many\n");
    assert.equal(refused.length, 0, "a qrexec socket service gets no reply but the close");
    await lines(sock, "flood", "s3", "an existing stream still takes records\n");
    await lines(sock, "victim", "main", "the victim's evidence\n");
    assert.equal(await d.stop(), 0, d.out());
  } finally {
    if (d.proc.exitCode === null) await d.stop();
  }
  assert.equal((await logward(["show", "flood/s8", "--store", store])).code, 1, "no stream s8");
  assert.match((await logward(["show", "flood/s3", "--store", store])).stdout.toString(), /still takes/);
  assert.match((await logward(["show", "victim/main", "--store", store])).stdout.toString(), /evidence/);
  const alerts = (await logward(["alerts", "--store", store])).stdout.toString();
  assert.match(alerts, /stream-limit.*flood/);
  const events = (await logward(["show", "_logward/events", "--store", store])).stdout.toString();
  assert.match(events, /event=refused .*flood.*max_streams_per_origin/);
});
