// npm run bench:store — durable append throughput of the store alone on the peerbench corpus
// (2,000,000 RFC 5424 lines, 20 origins), beside the C sink with fdatasync measured in the
// same run (`peers.sh ref_sink_fsync`), so the figure to read is the ratio.
//
// Each repetition runs in a fresh child process (peak RSS is per run). The child reads the 20
// per-origin corpus files in 256 KiB chunks, round-robin, the way socket reads would arrive,
// splits lines and appends them to one stream per origin; the clock stops when every record is
// fsync'd. Compression is left running and measured afterwards (bytes on disk per byte in).
//
//   env: PEERBENCH (default ../shared/peerbench), PEERBENCH_DIR (default /tmp/peerbench),
//        REPS (default 3), SKIP_PEERS=1 to measure logward alone.

import { execFileSync, spawnSync } from "node:child_process";
import { open, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { summarizeStreams } from "../src/query/summary.ts";
import { Store } from "../src/store/store.ts";
import type { ListenRun } from "./listen-rows.ts";

const PROJECT = resolve(import.meta.dirname, "..");
const PEERBENCH = process.env.PEERBENCH ?? resolve(PROJECT, "../shared/peerbench");
const WORK = process.env.PEERBENCH_DIR ?? "/tmp/peerbench";
const CORPUS = join(WORK, "corpus");
const CHUNK = 256 * 1024;

/** A listen row's measurements, and the store's bytes on disk per byte sent. */
interface Run extends ListenRun {
  disk_bytes_per_byte?: number;
}

async function child(storeDir: string): Promise<void> {
  const hosts = (await readFile(join(CORPUS, "hosts.txt"), "latin1")).split(/\s+/).filter(Boolean);
  await rm(storeDir, { recursive: true, force: true });
  const store = await Store.open(storeDir);
  const writers = await Promise.all(hosts.map((h) => store.stream(h, "main")));
  const files = await Promise.all(hosts.map((h) => open(join(CORPUS, `${h}.log`), "r")));
  const bufs = hosts.map(() => Buffer.allocUnsafe(CHUNK + 64 * 1024));
  const carry = hosts.map(() => 0);
  const pos = hosts.map(() => 0);
  const done = hosts.map(() => false);
  const offsetsFor = hosts.map(() => new Uint32Array(2 * 16384));
  let lines = 0;
  let bytes = 0;
  const tick = () => new Promise<void>((r) => setImmediate(r));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (done.some((d) => !d)) {
    await tick(); // one event-loop turn per round, like socket reads
    await Promise.all(
      hosts.map(async (_, k) => {
        if (done[k]) return;
        const buf = bufs[k]!;
        const { bytesRead } = await files[k]!.read(buf, carry[k]!, CHUNK, pos[k]!);
        pos[k]! += bytesRead;
        const have = carry[k]! + bytesRead;
        if (bytesRead === 0) done[k] = true;
        // frame lines as the collector's framer does: offsets, no object per line
        const offsets = offsetsFor[k]!;
        let n = 0;
        let s = 0;
        for (let e = buf.indexOf(10, s); e !== -1 && e < have; e = buf.indexOf(10, s)) {
          if (2 * n + 2 > offsets.length) break;
          offsets[2 * n] = s;
          offsets[2 * n + 1] = e;
          n++;
          s = e + 1;
        }
        if (done[k] && s < have) {
          offsets[2 * n] = s;
          offsets[2 * n + 1] = have;
          n++;
          s = have;
        }
        if (n > 0) {
          writers[k]!.appendSlices(buf, offsets, n);
          lines += n;
          bytes += s;
        }
        buf.copy(buf, 0, s, have);
        carry[k] = have - s;
        if (writers[k]!.backlogged) await writers[k]!.whenDrained();
      }),
    );
  }
  await store.flush();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rss = process.resourceUsage().maxRSS / 1024;
  // outside the timed part: seal every stream (as the age limit would) and let compression run
  for (const w of writers) w.requestSeal();
  await store.idle();
  await store.close();
  for (const f of files) await f.close();
  const rows = await summarizeStreams(storeDir);
  const stored = rows.reduce((n, r) => n + r.records, 0);
  if (stored !== lines) throw new Error(`stored ${stored} records, appended ${lines}`);
  const disk = rows.reduce((n, r) => n + r.bytes, 0);
  const run: Run = {
    config: "logward_store",
    lines,
    bytes,
    wall_s: Number(wall.toFixed(3)),
    lines_per_s: Math.round(lines / wall),
    MB_per_s: Number((bytes / wall / 1e6).toFixed(1)),
    cpu_us_per_line: Number((((cpu.user + cpu.system) / lines) * 1).toFixed(3)),
    peak_rss_mib: Math.round(rss),
    disk_bytes_per_byte: Number((disk / bytes).toFixed(3)),
  };
  process.stdout.write(`${JSON.stringify(run)}\n`);
  await rm(storeDir, { recursive: true, force: true });
}

function peerRun(): Run | null {
  const r = spawnSync(join(PEERBENCH, "peers.sh"), ["ref_sink_fsync"], {
    env: { ...process.env, REPS: "1", PEERBENCH_DIR: WORK },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .at(-1);
  if (r.status !== 0 || !line) {
    process.stderr.write(`peers.sh ref_sink_fsync failed (${r.status}): ${r.stderr.slice(-500)}\n`);
    return null;
  }
  const j = JSON.parse(line) as Record<string, number>;
  return {
    config: "c_sink_fdatasync",
    lines: j.lines_out!,
    bytes: 436_597_681,
    wall_s: j.wall_s!,
    lines_per_s: j.lines_per_s!,
    MB_per_s: j.MB_per_s!,
    cpu_us_per_line: Number(((j.rx_cpu_s! * 1e6) / j.lines_out!).toFixed(3)),
    peak_rss_mib: Math.round(j.rx_peak_rss_kb! / 1024),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (process.argv[2] === "--child") return child(process.argv[3]!);
  execFileSync(join(PEERBENCH, "corpus.sh"), {
    env: { ...process.env, PEERBENCH_DIR: WORK },
    stdio: "inherit",
  });
  const reps = Number(process.env.REPS ?? 3);
  const ours: Run[] = [];
  const peers: Run[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    // interleaved: one run of each per repetition, so both see the same machine state
    const r = spawnSync(process.execPath, [import.meta.filename, "--child", join(WORK, "logward-store")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (r.status !== 0) throw new Error(`benchmark child failed with ${r.status}`);
    const run = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Run;
    ours.push(run);
    process.stderr.write(`rep ${rep} logward: ${JSON.stringify(run)}\n`);
    if (!process.env.SKIP_PEERS) {
      const p = peerRun();
      if (p) {
        peers.push(p);
        process.stderr.write(`rep ${rep} C sink: ${JSON.stringify(p)}\n`);
      }
    }
  }
  const row = (name: string, runs: Run[]) => {
    if (runs.length === 0) return `| ${name} | not measured | | | | |`;
    const lps = median(runs.map((r) => r.lines_per_s));
    return `| ${name} | ${(lps / 1e6).toFixed(2)} M | ${median(runs.map((r) => r.MB_per_s))} | ${median(runs.map((r) => r.cpu_us_per_line))} | ${median(runs.map((r) => r.peak_rss_mib))} MiB | ${runs.map((r) => (r.lines_per_s / 1e6).toFixed(2)).join(", ")} |`;
  };
  console.log(
    `\nDurable append, peerbench corpus (${ours[0]!.lines} lines, 20 origins), medians of ${reps}:\n`,
  );
  console.log("| configuration | lines/s | MB/s | CPU µs/line | peak RSS | all runs (M lines/s) |");
  console.log("|---|---|---|---|---|---|");
  console.log(row("logward store, group commit (fdatasync)", ours));
  console.log(row("C sink, fdatasync every 256 KiB", peers));
  if (peers.length > 0) {
    const ratio = median(ours.map((r) => r.lines_per_s)) / median(peers.map((r) => r.lines_per_s));
    console.log(`\nlogward / C sink (durable): ${ratio.toFixed(2)}`);
  }
  console.log(
    `bytes on disk per byte received, after compression: ${median(ours.map((r) => r.disk_bytes_per_byte!))}`,
  );
  console.log("target for the store alone: 2,000,000 lines/s durable");
}

await main();
