// npm run bench:origins — many origins at a steady rate (issue 20, goal 5): ORIGINS qrexec
// sessions (default 500) each send RATE lines a second (default 100) for SECONDS (default 60)
// into one `logward serve`. Reported: every origin's stored records against what it sent (no
// loss), the collector's RSS over time and its peak (VmHWM), its CPU, and fairness: each
// record's latency is its receive time (stamped by the collector) minus the send time the
// sender wrote into the line; no origin's p99 may exceed 10× the median of all records.
//
// The sessions arrive on the qrexec socket-service path (`qrexec_sockets`: qrexec connects to
// the collector's socket and writes its `logward.Lines <origin>` descriptor, PROTOCOL.md), one
// connection per origin, all driven from this process. The exec path (one `logward ingest`
// process per session) is MODE=ingest; at 500 it does not fit here: each ingest is a Node
// process of ~52 MiB RSS (measured with MODE=ingest, printed below), so 500 take ~26 GiB,
// more than this machine's 24, and their start-up alone ~25 s of its 2 cores: that would
// measure the machine, not the collector. Both paths end in the same collector session code.
//
//   env: ORIGINS (500), RATE (lines/s per origin, 100), SECONDS (60), MODE (socket | ingest),
//        LINE_BYTES (payload size, 120), ORIGINS_DIR (work dir, default /tmp/logward-origins)
//   quick check: ORIGINS=50 SECONDS=10 npm run bench:origins

import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { Writable } from "node:stream";
import { readStreamLines } from "../src/store/read.ts";
import { startServe } from "./serve-proc.ts";

const PROJECT = resolve(import.meta.dirname, "..");
const BIN = join(PROJECT, "bin/logward.js");
const ORIGINS = Number(process.env.ORIGINS ?? 500);
const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 60);
const MODE = process.env.MODE ?? "socket";
const LINE_BYTES = Number(process.env.LINE_BYTES ?? 120);
const WORK = process.env.ORIGINS_DIR ?? "/tmp/logward-origins";
const TICK_MS = 10;

/** Microseconds since the epoch, with sub-millisecond resolution. */
const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

export function procStatus(pid: number, key: string): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const TICKS = 100; // USER_HZ on Linux
export function cpuSeconds(pid: number): number {
  const { user, system } = cpuSplit(pid);
  return user + system;
}

/** User and system CPU seconds of a process, from /proc/PID/stat. */
export function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) / TICKS, system: Number(f[12]) / TICKS };
}

/** A receive time (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) as µs since the epoch; seconds cached. */
const secCache = new Map<string, number>();
export function receiveUs(line: Buffer, at: number): number {
  const sec = line.toString("latin1", at, at + 19);
  let s = secCache.get(sec);
  if (s === undefined) {
    s = Date.parse(`${sec}Z`) * 1000;
    secCache.set(sec, s);
  }
  let us = 0;
  for (let i = at + 20; i < at + 26; i++) us = us * 10 + (line[i]! - 48);
  return s + us;
}

interface Origin {
  name: string;
  out: Writable;
  sent: number;
  /** Start of this origin's pacing, staggered so that origins do not all send in one tick. */
  phaseMs: number;
  done: Promise<number | null>;
}

function openSocket(sock: string, name: string): Origin {
  const s: Socket = connect(sock);
  s.write(`logward.Lines ${name}\0`);
  s.on("data", () => {}); // a lines sender is written nothing back
  const done = new Promise<number | null>((r) => {
    s.once("close", (hadError) => r(hadError ? 1 : 0));
    s.once("error", () => {});
  });
  return { name, out: s, sent: 0, phaseMs: 0, done };
}

function openIngest(store: string, name: string): Origin & { proc: ChildProcess } {
  const proc = spawn(process.execPath, [BIN, "ingest", "--format", "lines", "--store", store], {
    stdio: ["pipe", "ignore", "inherit"],
    env: { PATH: process.env.PATH, QREXEC_REMOTE_DOMAIN: name, QREXEC_SERVICE_ARGUMENT: "main" },
  });
  const done = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { name, out: proc.stdin!, sent: 0, phaseMs: 0, done, proc };
}

const PAD = "x".repeat(LINE_BYTES);
function lines(o: Origin, upTo: number): string {
  let s = "";
  for (; o.sent < upTo; o.sent++) {
    const head = `o=${o.name} n=${o.sent} t=${nowUs()} `;
    s += `${head}${PAD.slice(head.length)}\n`;
  }
  return s;
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const store = join(WORK, "store");
  const sock = join(WORK, "svc.sock");
  await rm(store, { recursive: true, force: true });
  const config = join(WORK, "logward.toml");
  writeFileSync(
    config,
    `[collector]\nqrexec_sockets = ["${sock}"]\nmax_sessions = ${Math.max(1024, ORIGINS + 16)}\n`,
  );
  const serve = await startServe(BIN, store, config);
  const pid = serve.pid!;
  const rssIdle = procStatus(pid, "VmRSS");
  const names = Array.from({ length: ORIGINS }, (_, i) => `bench-${String(i).padStart(4, "0")}`);
  const origins: Origin[] = names.map((n) =>
    MODE === "ingest" ? openIngest(store, n) : openSocket(sock, n),
  );
  origins.forEach((o, i) => {
    o.phaseMs = (i * (1000 / RATE)) / ORIGINS;
  });
  // the senders' own RSS in ingest mode, once they have started
  await new Promise((r) => setTimeout(r, MODE === "ingest" ? 3000 : 500));
  let senderRss = Number.NaN;
  if (MODE === "ingest") {
    const rs = origins.map((o) => procStatus((o as Origin & { proc: ChildProcess }).proc.pid!, "VmRSS"));
    senderRss = rs.reduce((a, b) => a + b, 0) / rs.length;
  }
  const cpu0 = cpuSeconds(pid);
  const samples: { t: number; rss: number; cpu: number }[] = [];
  const t0 = performance.now();
  let lastSample = 0;
  let behind = 0;
  await new Promise<void>((res) => {
    const tick = setInterval(() => {
      const el = performance.now() - t0;
      const end = el >= SECONDS * 1000;
      for (const o of origins) {
        const due = Math.min(RATE * SECONDS, Math.floor(((el - o.phaseMs) * RATE) / 1000) + 1);
        if (due > o.sent && !o.out.write(lines(o, due))) behind++;
      }
      if (el - lastSample >= 1000 || end) {
        lastSample = el;
        samples.push({ t: el / 1000, rss: procStatus(pid, "VmRSS"), cpu: cpuSeconds(pid) - cpu0 });
      }
      if (end) {
        clearInterval(tick);
        res();
      }
    }, TICK_MS);
  });
  const sendWall = (performance.now() - t0) / 1000;
  for (const o of origins) o.out.end();
  const codes = await Promise.all(origins.map((o) => o.done));
  const drainWall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const split = cpuSplit(pid);
  const hwm = procStatus(pid, "VmHWM");
  serve.kill("SIGTERM");
  const exit = await new Promise<number | null>((r) => serve.once("exit", (c) => r(c)));
  if (codes.some((c) => c !== 0) || exit !== 0)
    throw new Error(
      `a session or the collector failed: exits ${[...new Set(codes)].join(",")}, serve ${exit}`,
    );

  // every origin's records: count, sequence, latency
  const all = new Float64Array(ORIGINS * RATE * SECONDS);
  let nAll = 0;
  let lost = 0;
  const perOrigin: { name: string; p50: number; p99: number; max: number }[] = [];
  for (const o of origins) {
    const lat = new Float64Array(o.sent);
    const seen = new Uint8Array(o.sent);
    let n = 0;
    let dup = 0;
    for await (const block of readStreamLines(store, o.name, "main")) {
      let s = 0;
      for (let lf = block.indexOf(10); lf !== -1; s = lf + 1, lf = block.indexOf(10, s)) {
        // <27-byte time> SP <seq> SP <kind> SP <payload>
        const k = block.indexOf(32, s + 28) + 1;
        if (block[k] !== 0x2e) continue; // a collector record (the session's open note)
        const p = k + 2;
        const nAt = block.indexOf(" n=", p) + 3;
        const tAt = block.indexOf(" t=", nAt) + 3;
        const seq = Number(block.toString("latin1", nAt, tAt - 3));
        const sent = Number(block.toString("latin1", tAt, block.indexOf(32, tAt)));
        if (seen[seq]) dup++;
        seen[seq] = 1;
        const l = (receiveUs(block, s) - sent) / 1000;
        lat[n++] = l;
        all[nAll++] = l;
      }
    }
    const missing = seen.reduce((a, b) => a + (b ? 0 : 1), 0);
    if (missing > 0 || dup > 0 || n !== o.sent) {
      lost += missing;
      process.stderr.write(`${o.name}: sent ${o.sent}, stored ${n} (${missing} missing, ${dup} twice)\n`);
    }
    const sorted = lat.subarray(0, n).sort();
    perOrigin.push({ name: o.name, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), max: sorted[n - 1] ?? 0 });
  }
  await rm(store, { recursive: true, force: true });
  const sortedAll = all.subarray(0, nAll).sort();
  const median = pct(sortedAll, 0.5);
  const worst = perOrigin.reduce((a, b) => (b.p99 > a.p99 ? b : a));
  const p99s = Float64Array.from(perOrigin.map((o) => o.p99)).sort();
  const sent = origins.reduce((a, o) => a + o.sent, 0);
  const peakRss = Math.max(...samples.map((s) => s.rss));

  console.log(
    `\n${ORIGINS} origins × ${RATE} lines/s × ${SECONDS} s, ${MODE === "ingest" ? "`logward ingest` processes (qrexec exec path)" : "qrexec socket-service connections"}, ${LINE_BYTES}-byte lines: sent ${sent}, stored ${nAll}, lost ${lost}; last session closed ${(drainWall - sendWall).toFixed(2)} s after the last line was sent`,
  );
  if (MODE === "ingest") console.log(`each ingest process: ${senderRss.toFixed(1)} MiB RSS (mean)`);
  console.log(
    `collector CPU since start: ${split.user.toFixed(1)} s user, ${split.system.toFixed(1)} s system (the system part is mostly each small arrival's own write and fdatasync)`,
  );
  console.log("\ncollector over time (s: RSS MiB, CPU s so far):");
  const every = Math.max(1, Math.round(samples.length / 12));
  console.log(
    samples
      .filter((_, i) => i % every === 0 || i === samples.length - 1)
      .map((s) => `${s.t.toFixed(0)}: ${s.rss.toFixed(0)}, ${s.cpu.toFixed(1)}`)
      .join(" | "),
  );
  console.log(
    `\nlatency (receive time − send time), ms: median ${median.toFixed(2)}, p99 ${pct(sortedAll, 0.99).toFixed(2)}, p99.9 ${pct(sortedAll, 0.999).toFixed(2)}, max ${sortedAll[nAll - 1]?.toFixed(1)}; per-origin p99: median ${pct(p99s, 0.5).toFixed(2)}, worst ${worst.p99.toFixed(2)} (${worst.name}, its max ${worst.max.toFixed(1)})`,
  );
  // the issue's goal: the worst origin's p99 against the median of all records. A stall of the
  // whole collector (GC, a busy machine) delays every origin alike and fails it without any
  // unfairness, so the spread of the per-origin p99s is printed beside it: that one is fairness.
  const ratio = worst.p99 / median;
  console.log(
    `writes that filled a socket buffer: ${behind}; load average at the end: ${readFileSync("/proc/loadavg", "latin1").split(" ").slice(0, 3).join(" ")} on ${availableParallelism()} cores`,
  );
  console.log(
    "\n| origins × lines/s × s | lost | collector peak RSS (VmHWM) | RSS idle → end | collector CPU µs/line | latency median | worst origin p99 | worst p99 ÷ median | worst p99 ÷ median origin's p99 |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  console.log(
    `| ${ORIGINS} × ${RATE} × ${SECONDS} (${MODE}) | ${lost} of ${sent} | ${hwm.toFixed(0)} MiB | ${rssIdle.toFixed(0)} → ${samples.at(-1)!.rss.toFixed(0)} MiB (sampled peak ${peakRss.toFixed(0)}) | ${((cpu * 1e6) / sent).toFixed(2)} | ${median.toFixed(2)} ms | ${worst.p99.toFixed(2)} ms | ${ratio.toFixed(1)} (goal ≤ 10) | ${(worst.p99 / pct(p99s, 0.5)).toFixed(2)} |`,
  );
  if (lost > 0) process.exitCode = 1;
}

if (import.meta.main) await main();
