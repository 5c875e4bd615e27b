// npm run bench:growth — how logward's costs grow (issue 20, goal 6), printed as one markdown
// table:
//   - ingest: the same INGEST_LINES lines of the peerbench corpus (all.log) split among 20, 100
//     and 500 origins, each origin one qrexec socket-service connection sending its share as
//     fast as the collector takes it, into a fresh `logward serve`: lines/s (clock stopped when
//     the collector has closed the last connection, which it does once everything is fsync'd),
//     the collector's CPU µs a line and peak RSS (VmHWM). Every origin's record count is checked.
//   - query: one store grown to 0.1, 1 and 4 GB of stored text (the corpus's 20 hosts appended
//     round-robin again and again through the store API with a controlled clock, at a constant
//     1 GB of text per two days of receive time, so a minute holds the same records at every
//     size), and at each size `search RARE`, `search --count COMMON` and `show ORIGIN` of one
//     minute in the middle (median of REPS runs, each a fresh process as a user runs it).
// A design that indexes by time keeps `show` flat; `search` reads everything, so it grows with
// the text (linear by nature: reported as ms per GB too).
//
//   env: PEERBENCH_DIR (/tmp/peerbench), GROWTH_DIR (/tmp/logward-growth), ORIGIN_STEPS
//        ("20 100 500"), INGEST_LINES (1000000), STORE_GB ("0.1 1 4"), REPS (3)
//   quick check: ORIGIN_STEPS="20 100" INGEST_LINES=200000 STORE_GB="0.05 0.2" npm run bench:growth
// The 4 GB store needs about 4 GB of disk for the plain active segments while it is built
// (sealed ones are compressed); check `df` first.

import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { connect } from "node:net";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { summarizeStreams } from "../src/query/summary.ts";
import { listStreams, streamSegments } from "../src/store/read.ts";
import { Store } from "../src/store/store.ts";
import { cpuSeconds, procStatus } from "./origins.bench.ts";
import { startServe } from "./serve-proc.ts";

const PROJECT = resolve(import.meta.dirname, "..");
const BIN = join(PROJECT, "bin/logward.js");
const CORPUS = join(process.env.PEERBENCH_DIR ?? "/tmp/peerbench", "corpus");
const WORK = process.env.GROWTH_DIR ?? "/tmp/logward-growth";
const STEPS = (process.env.ORIGIN_STEPS ?? "20 100 500").split(/\s+/).filter(Boolean).map(Number);
const INGEST_LINES = Number(process.env.INGEST_LINES ?? 1_000_000);
const STORE_GB = (process.env.STORE_GB ?? "0.1 1 4").split(/\s+/).filter(Boolean).map(Number);
const REPS = Number(process.env.REPS ?? 3);
const START_US = Date.parse("2026-01-10T00:00:00Z") * 1000;
/** Receive time per byte of text: 1 GB per two days. */
const US_PER_BYTE = (2 * 86400 * 1e6) / 1e9;
const RARE = "3610954"; // a user id in a few lines of the corpus (as bench:query)
const COMMON = "error";

/** The first `bytes` of a file, cut at its last LF. */
function prefix(path: string, bytes: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const n = Math.min(bytes, fstatSync(fd).size);
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) got += readSync(fd, buf, got, n - got, got);
    return buf.subarray(0, buf.lastIndexOf(10) + 1);
  } finally {
    closeSync(fd);
  }
}

/** `text` cut into `n` pieces of about equal size at line ends, and their line counts. */
function split(text: Buffer, n: number): { chunk: Buffer; lines: number }[] {
  const out: { chunk: Buffer; lines: number }[] = [];
  let s = 0;
  for (let i = 1; i <= n; i++) {
    let e = i === n ? text.length : text.indexOf(10, Math.floor((text.length * i) / n)) + 1;
    if (e <= 0) e = text.length;
    const chunk = text.subarray(s, e);
    let lines = 0;
    for (let j = chunk.indexOf(10); j !== -1; j = chunk.indexOf(10, j + 1)) lines++;
    out.push({ chunk, lines });
    s = e;
  }
  return out;
}

interface IngestRow {
  origins: number;
  lines: number;
  linesPerS: number;
  cpuUs: number;
  hwm: number;
  firstMs: number;
}

async function ingestStep(text: Buffer, origins: number): Promise<IngestRow> {
  const store = join(WORK, "ingest-store");
  const sock = join(WORK, "svc.sock");
  await rm(store, { recursive: true, force: true });
  const config = join(WORK, "logward.toml");
  writeFileSync(
    config,
    `[collector]\nqrexec_sockets = ["${sock}"]\nmax_sessions = ${Math.max(1024, origins + 16)}\n`,
  );
  const serve = await startServe(BIN, store, config);
  const pid = serve.pid!;
  const parts = split(text, origins);
  const names = parts.map((_, i) => `o${String(i).padStart(4, "0")}`);
  const session = (name: string, chunk: Buffer) =>
    new Promise<void>((res, rej) => {
      const s = connect(sock);
      s.on("error", rej);
      s.on("data", () => {});
      s.once("close", () => res());
      s.write(`logward.Lines ${name}\0`);
      s.end(chunk);
    });
  // first a session of one line per origin, so that the measured step is the steady state of
  // N origins, not the creation of N streams (timed apart: a new origin's first session)
  const w0 = performance.now();
  await Promise.all(names.map((n) => session(n, Buffer.from("warm-up\n"))));
  const firstMs = (performance.now() - w0) / origins;
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  await Promise.all(parts.map(({ chunk }, i) => session(names[i]!, chunk)));
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const hwm = procStatus(pid, "VmHWM");
  serve.kill("SIGTERM");
  const exit = await new Promise<number | null>((r) => serve.once("exit", (c) => r(c)));
  if (exit !== 0) throw new Error(`logward serve exited with ${exit}`);
  const rows = await summarizeStreams(store);
  let lines = 0;
  for (const [i, p] of parts.entries()) {
    const row = rows.find((r) => r.origin === names[i] && r.stream === "main");
    // the corpus lines and the warm-up line, plus each session's notes (one or two)
    if (!row || row.records < p.lines + 3 || row.records > p.lines + 5)
      throw new Error(`${names[i]}: stored ${row?.records ?? 0} records for ${p.lines} lines`);
    lines += p.lines;
  }
  await rm(store, { recursive: true, force: true });
  return { origins, lines, linesPerS: lines / wall, cpuUs: (cpu * 1e6) / lines, hwm, firstMs };
}

/** Child process: grow the query store from `from` to `to` bytes of text. */
async function build(root: string, from: number, to: number): Promise<void> {
  const hosts = readFileSync(join(CORPUS, "hosts.txt"), "latin1").split(/\s+/).filter(Boolean);
  const per = Math.ceil((to - from) / hosts.length) + 65536;
  const texts = hosts.map((h) => prefix(join(CORPUS, `${h}.log`), per));
  const pos = hosts.map(() => 0);
  let written = from;
  let now = START_US + Math.floor(written * US_PER_BYTE);
  const store = await Store.open(root, { clock: () => now });
  const writers = await Promise.all(hosts.map((h) => store.stream(h, "main")));
  while (written < to) {
    for (let i = 0; i < hosts.length && written < to; i++) {
      const text = texts[i]!;
      const batch: Buffer[] = [];
      let s = pos[i]!;
      // small batches, each stamped with one time: every origin has records in any minute
      for (let n = 0; n < 25; n++) {
        if (s >= text.length) s = 0; // the corpus again
        const lf = text.indexOf(10, s);
        batch.push(text.subarray(s, lf));
        written += lf + 1 - s;
        s = lf + 1;
      }
      pos[i] = s;
      now = START_US + Math.floor(written * US_PER_BYTE);
      const w = writers[i]!;
      w.appendRecords(batch);
      if (w.backlogged) await w.whenDrained();
    }
  }
  await store.idle();
  await store.close();
  writeFileSync(join(root, "..", "written"), String(written));
}

function time(args: string[]): { ms: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`logward ${args.join(" ")} failed: ${r.stderr}`);
  return { ms, out: r.stdout };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface QueryRow {
  gb: number;
  textGb: number;
  diskGb: number;
  rare: number;
  count: number;
  show: number;
  showRecords: number;
}

async function queryStep(root: string, written: number): Promise<QueryRow> {
  let text = 0;
  for (const { origin, stream } of await listStreams(root))
    for (const seg of await streamSegments(root, origin, stream)) text += seg.rawBytes;
  const du = Number(execFileSync("du", ["-sb", join(root, "origins")], { encoding: "utf8" }).split("\t")[0]);
  const host = readFileSync(join(CORPUS, "hosts.txt"), "latin1").split(/\s+/).filter(Boolean)[0]!;
  const midUs = START_US + (written * US_PER_BYTE) / 2;
  const since = new Date(midUs / 1000).toISOString();
  const until = new Date(midUs / 1000 + 60_000).toISOString();
  const r: number[] = [];
  const c: number[] = [];
  const s: number[] = [];
  let showRecords = 0;
  for (let rep = 0; rep < REPS; rep++) {
    r.push(time(["search", RARE, "--store", root]).ms);
    c.push(time(["search", "--count", COMMON, "--store", root]).ms);
    const sh = time(["show", host, "--since", since, "--until", until, "--store", root]);
    s.push(sh.ms);
    showRecords = sh.out.split("\n").length - 1;
  }
  return {
    gb: written / 1e9,
    textGb: text / 1e9,
    diskGb: du / 1e9,
    rare: median(r),
    count: median(c),
    show: median(s),
    showRecords,
  };
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const df = execFileSync("df", ["-B1", "--output=avail", WORK], { encoding: "utf8" }).split("\n")[1]!;
  const need = Math.max(...STORE_GB) * 1.2e9;
  if (Number(df) < need)
    throw new Error(
      `${WORK} has ${(Number(df) / 1e9).toFixed(1)} GB free; STORE_GB needs about ${(need / 1e9).toFixed(1)}: free some or lower STORE_GB.`,
    );

  const ingest: IngestRow[] = [];
  if (STEPS.length > 0) {
    // about 218 bytes a line in the corpus: read a little more than needed, then cut
    const all = prefix(join(CORPUS, "all.log"), INGEST_LINES * 260);
    let end = 0;
    for (let n = 0; n < INGEST_LINES && end < all.length; n++) end = all.indexOf(10, end) + 1;
    const text = all.subarray(0, end);
    for (const n of STEPS) {
      const row = await ingestStep(text, n);
      ingest.push(row);
      process.stderr.write(`ingest, ${n} origins: ${Math.round(row.linesPerS)} lines/s\n`);
    }
  }

  const query: QueryRow[] = [];
  const root = join(WORK, "query-store");
  await rm(root, { recursive: true, force: true });
  let written = 0;
  for (const gb of [...STORE_GB].sort((a, b) => a - b)) {
    const t0 = performance.now();
    execFileSync(
      process.execPath,
      [import.meta.filename, "--build", root, String(written), String(gb * 1e9)],
      {
        stdio: "inherit",
      },
    );
    written = Number(readFileSync(join(WORK, "written"), "latin1"));
    execFileSync("sync");
    process.stderr.write(
      `store grown to ${(written / 1e9).toFixed(2)} GB in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
    );
    query.push(await queryStep(root, written));
  }
  await rm(root, { recursive: true, force: true });

  // one table: the ingest rows, then the query rows
  console.log(
    `\ncost growth, ${INGEST_LINES} corpus lines per ingest step (socket-service sessions, durable); queries median of ${REPS}; 2 cores shared with other work\n`,
  );
  console.log(
    "| scale | ingest lines/s | collector CPU µs/line | collector peak RSS | new origin's first session | search rare | search --count common | show, one minute |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  for (const i of ingest)
    console.log(
      `| ${i.origins} origins | ${Math.round(i.linesPerS / 1000)} k | ${i.cpuUs.toFixed(2)} | ${i.hwm.toFixed(0)} MiB | ${i.firstMs.toFixed(2)} ms (all at once) | | | |`,
    );
  for (const q of query)
    console.log(
      `| ${q.textGb.toFixed(2)} GB stored text (${q.diskGb.toFixed(2)} GB on disk) | | | | | ${q.rare.toFixed(0)} ms (${(q.rare / q.textGb / 1000).toFixed(2)} s/GB) | ${q.count.toFixed(0)} ms (${(q.count / q.textGb / 1000).toFixed(2)} s/GB) | ${q.show.toFixed(0)} ms (${q.showRecords} records) |`,
    );
  const load = readFileSync("/proc/loadavg", "latin1").split(" ").slice(0, 3).join(" ");
  console.log(`\nload average at the end: ${load} on ${availableParallelism()} cores`);
}

if (process.argv[2] === "--build")
  await build(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else await main();
