// OpenBSD syslogd's regress tests (openbsd/src regress/usr.sbin/syslogd/args-*.pl) ported to
// logward where they test a behaviour logward shares, each test named after the file it
// ports (the framing ones are in test/wire-syslog.test.ts): a line cut at the limit next to
// escaped bytes (args-length-vis), and running out of file descriptors (args-fdexhaustion-tcp).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { isDisplaySafe } from "../src/store/escape.ts";
import { BIN } from "./helpers/cli.ts";
import { ALLOW_ROOT, ingest, rawSession, serve } from "./helpers/daemon.ts";
import { endOf } from "./helpers/hostile.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every line of a stream's plain segments, as stored. */
function storedLines(store: string, origin: string, stream: string): Buffer[] {
  const dir = join(store, "origins", origin, stream);
  const lines: Buffer[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => n.endsWith(".log"))
    .sort()) {
    const text = readFileSync(join(dir, f));
    let start = 0;
    for (let i = text.indexOf(0x0a); i !== -1; i = text.indexOf(0x0a, start)) {
      lines.push(text.subarray(start, i));
      start = i + 1;
    }
  }
  return lines;
}

test("args-length-vis: a record cut at the limit next to 8-bit and control bytes keeps whole escapes", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store, `[collector]\nmax_record = "256B"\n`);
  // as the regress test: the cut falls before, inside and after a run of bytes that are escaped
  const tail = Buffer.from("foo\x80\x1b]0;title\x07\u202e", "latin1");
  const sent = Array.from({ length: 14 }, (_, k) =>
    Buffer.concat([Buffer.alloc(246 + k, "a"), tail, Buffer.from("\u202e", "utf8")]),
  );
  try {
    const r = await ingest(store, "lines", Buffer.concat(sent.flatMap((s) => [s, Buffer.from("\n")])), {
      QREXEC_REMOTE_DOMAIN: "vis",
    });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await d.stop();
  }
  const records = (await readAll(store, "vis", "main")).filter((x) => x.kind === ".");
  assert.deepEqual(
    records.map((x) => x.payload.toString("latin1")),
    sent.map((s) => s.subarray(0, Math.min(s.length, 256)).toString("latin1")),
    "each record is the sent line's first 256 bytes, whatever byte the cut falls on",
  );
  const all = await readAll(store, "vis", "main");
  assert.equal(all.filter((x) => x.kind === "!trunc").length, sent.filter((s) => s.length > 256).length);
  for (const line of storedLines(store, "vis", "main"))
    assert.ok(
      isDisplaySafe(line, 0, line.length),
      `not display-safe: ${JSON.stringify(line.toString("latin1"))}`,
    );
});

test("args-fdexhaustion-tcp: out of file descriptors, serve refuses what it must and goes on", {
  skip: spawnSync("prlimit", ["--version"]).status === 0 ? false : "prlimit is not installed",
  timeout: 60_000,
}, async () => {
  const store = join(tempDir(), "store");
  const config = join(store, "..", "fd.toml");
  writeFileSync(config, `[ui]\nenabled = false\n`);
  // the regress test lowers RLIMIT_NOFILE to 30; Node itself needs more to start
  const proc: ChildProcess = spawn(
    "prlimit",
    ["--nofile=96:96", process.execPath, BIN, "serve", "--store", store, "--config", config, ...ALLOW_ROOT],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr!.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  const held: Socket[] = [];
  try {
    for (let k = 0; k < 150 && !/ready/.test(out); k++) await sleep(100);
    assert.match(out, /ready/);
    const path = join(store, "run", "ingest.sock");
    // far more connections than descriptors: the rest are refused (accept fails), not fatal
    for (let i = 0; i < 200; i++) held.push(rawSession(path, "", true).socket);
    await sleep(1_000);
    assert.equal(proc.exitCode, null, `serve exited: ${out}`);
    for (const s of held) s.destroy();
    held.length = 0;
    // "listen again": once descriptors are free, a sender is heard
    let end = { ok: false, message: "" };
    // (well before header_timeout, 10 s: a connection that ended without a header is closed)
    for (let k = 0; k < 15 && !end.ok; k++) {
      end = endOf(await rawSession(path, "logward-relay 1 lines after main\nheard again\n").done);
      if (!end.ok) await sleep(200);
    }
    const fds = readdirSync(`/proc/${proc.pid}/fd`).length;
    assert.ok(end.ok, `${end.message} ${out} fds=${fds}`);
  } finally {
    for (const s of held) s.destroy();
    proc.kill("SIGTERM");
    await exited;
  }
  const records = (await readAll(store, "after", "main")).filter((x) => x.kind === ".");
  assert.deepEqual(
    records.map((x) => x.payload.toString()),
    ["heard again"],
  );
});
