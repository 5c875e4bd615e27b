// npm run bench:line-kernel: CPU time to turn received lines into stored data records, the
// WebAssembly line kernel (src/store/line-kernel.ts) against the JavaScript path it is meant to
// replace (StreamWriter.writeDataRecord: the prefix byte loop, writeDecimal, escapeInto per
// line, line ends from indexOf), on the peerbench corpus (issue 20, goal 1). Not a test.
//
// Each host's file is read whole, then fed in CHUNK-byte pieces cut after their last LF, the
// way a framer hands over a socket read's complete lines; the records go to a 16 MiB buffer
// that is reset when more than half full (the group commit would have taken them). CPU time is
// process.cpuUsage() (user + sys) of the encoding alone; the two paths alternate, REPS times,
// and the outputs of one untimed pass are compared byte for byte first.
//
//   env: PEERBENCH_DIR (default /tmp/peerbench), REPS (default 5), CHUNK (default 262144),
//        MAX_MB (default: the whole corpus), SLOW_EVERY=N (a tab put in every Nth line, so
//        that the kernel leaves those lines to escapeInto: the cost of mixed input)

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { escapeInto } from "../src/store/escape.ts";
import { createLineEncoder, STOP_DONE, STOP_SLOW } from "../src/store/line-kernel.ts";
import { TIME_LEN, writeDecimal } from "../src/store/record.ts";

const WORK = process.env.PEERBENCH_DIR ?? "/tmp/peerbench";
const CORPUS = join(WORK, "corpus");
const REPS = Number(process.env.REPS ?? 5);
const CHUNK = Number(process.env.CHUNK ?? 256 * 1024);
const MAX_BYTES = Number(process.env.MAX_MB ?? Number.POSITIVE_INFINITY) * 1024 * 1024;
const LF = 0x0a;
const TIME = Buffer.from("2026-11-26T21:30:00.123456Z", "latin1");
const DST_SIZE = 16 << 20;

const enc = createLineEncoder();
if (!enc) throw new Error("no WebAssembly SIMD here");

/** StreamWriter.writeDataRecord without a ref, as it is today. */
function writeRecord(
  dst: Buffer,
  pos: number,
  time: Buffer,
  seq: number,
  src: Buffer,
  s: number,
  e: number,
): number {
  for (let i = 0; i < TIME_LEN; i++) dst[pos + i] = time[i]!;
  pos += TIME_LEN;
  dst[pos++] = 0x20;
  pos = writeDecimal(dst, pos, seq);
  dst[pos++] = 0x20;
  dst[pos++] = 0x2e;
  dst[pos++] = 0x20;
  pos = escapeInto(src, s, e, dst, pos);
  dst[pos++] = LF;
  return pos;
}

interface Sink {
  dst: Buffer;
  pos: number;
  seq: number;
  /** Called with dst[0, pos) before a reset (for the comparison), or null. */
  onReset: ((b: Buffer) => void) | null;
}

function reset(sink: Sink): void {
  sink.onReset?.(sink.dst.subarray(0, sink.pos));
  sink.pos = 0;
}

/** The JS path over `src[s, e)` (complete lines only); returns the position after the last LF. */
function jsChunk(src: Buffer, s: number, e: number, sink: Sink): number {
  if (sink.pos > DST_SIZE / 2) reset(sink);
  const dst = sink.dst;
  let pos = sink.pos;
  let seq = sink.seq;
  for (let lf = src.indexOf(LF, s); lf !== -1 && lf < e; lf = src.indexOf(LF, s)) {
    pos = writeRecord(dst, pos, TIME, seq++, src, s, lf);
    s = lf + 1;
  }
  sink.pos = pos;
  sink.seq = seq;
  return s;
}

let slowLines = 0;
let escapedLines = 0;

/** The kernel path over `src[s, e)`, slow lines the JS way. */
function kernelChunk(src: Buffer, s: number, e: number, sink: Sink): number {
  const k = enc!;
  if (sink.pos > DST_SIZE / 2) reset(sink);
  for (;;) {
    const stop = k.encode(src, s, e, sink.dst, sink.pos, DST_SIZE, TIME, sink.seq, 1 << 20);
    sink.seq += k.records;
    escapedLines += k.escaped;
    sink.pos = k.dstPos;
    s = k.srcPos;
    if (stop === STOP_DONE) return s;
    if (stop === STOP_SLOW) {
      slowLines++;
      if (sink.pos > DST_SIZE / 2) reset(sink);
      sink.pos = writeRecord(sink.dst, sink.pos, TIME, sink.seq++, src, s, k.slowEnd);
      s = k.slowEnd + 1;
    } else reset(sink); // FULL
  }
}

type Path = (src: Buffer, s: number, e: number, sink: Sink) => number;

function run(files: Buffer[], path: Path, sink: Sink): void {
  for (const f of files) {
    let s = 0;
    while (s < f.length) {
      const e = Math.min(s + CHUNK, f.length);
      const next = path(f, s, e, sink);
      s = next === s ? e : next; // a chunk without an LF (never here) would be carried
    }
  }
}

function cpu(f: () => void): number {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) * 1000; // ns
}

const hosts = readFileSync(join(CORPUS, "hosts.txt"), "latin1").split(/\s+/).filter(Boolean);
const files: Buffer[] = [];
let bytes = 0;
for (const h of hosts) {
  if (bytes >= MAX_BYTES) break;
  const f = readFileSync(join(CORPUS, `${h}.log`));
  files.push(f);
  bytes += f.length;
}
const SLOW_EVERY = Number(process.env.SLOW_EVERY ?? 0);
let lines = 0;
for (const f of files) {
  for (let s = 0, i = f.indexOf(LF); i !== -1; s = i + 1, i = f.indexOf(LF, s)) {
    if (SLOW_EVERY > 0 && lines % SLOW_EVERY === 0 && i - s > 20) f[s + 20] = 0x09;
    lines++;
  }
}

// untimed: both paths give the same bytes (compared in the pieces each reset hands over)
{
  const jsOut: Buffer[] = [];
  const kOut: Buffer[] = [];
  const a: Sink = { dst: Buffer.alloc(DST_SIZE), pos: 0, seq: 1, onReset: (b) => jsOut.push(Buffer.from(b)) };
  const b: Sink = { dst: Buffer.alloc(DST_SIZE), pos: 0, seq: 1, onReset: (x) => kOut.push(Buffer.from(x)) };
  run(files.slice(0, 2), jsChunk, a);
  reset(a);
  run(files.slice(0, 2), kernelChunk, b);
  reset(b);
  if (!Buffer.concat(jsOut).equals(Buffer.concat(kOut))) throw new Error("the two paths differ");
}
slowLines = 0;
escapedLines = 0;

const results: Record<string, number[]> = { js: [], kernel: [] };
const sinks = {
  js: { dst: Buffer.alloc(DST_SIZE), pos: 0, seq: 1, onReset: null } as Sink,
  kernel: { dst: Buffer.alloc(DST_SIZE), pos: 0, seq: 1, onReset: null } as Sink,
};
for (let r = 0; r < REPS; r++) {
  for (const name of r % 2 === 0 ? (["js", "kernel"] as const) : (["kernel", "js"] as const)) {
    const sink = sinks[name];
    sink.pos = 0;
    sink.seq = 1;
    results[name]!.push(cpu(() => run(files, name === "js" ? jsChunk : kernelChunk, sink)));
  }
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
console.log(
  `node ${process.version}; corpus: ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${lines} lines; chunk ${CHUNK} B; ${REPS} reps; lines per rep escaped in the encoder ${escapedLines / REPS}, handed back ${slowLines / REPS}`,
);
for (const name of ["js", "kernel"] as const) {
  const ns = results[name]!;
  const m = median(ns);
  console.log(
    `${name.padEnd(7)} cpu median ${(m / 1e6).toFixed(0)} ms (min ${(Math.min(...ns) / 1e6).toFixed(0)}): ${(m / lines).toFixed(1)} ns/line, ${(m / bytes).toFixed(3)} ns/byte`,
  );
}
console.log(`kernel/js: ${(median(results.kernel!) / median(results.js!)).toFixed(3)}`);
