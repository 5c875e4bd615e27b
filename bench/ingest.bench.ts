// npm run bench — the collector end to end on the peerbench corpus (2,000,000 RFC 5424 lines,
// 20 origins): `logward serve` on a fresh store, and 20 concurrent `logward ingest --format
// lines` processes, each run as qrexec runs it (QREXEC_REMOTE_DOMAIN = the origin, stdin = that
// origin's corpus file). The clock runs from starting the ingest processes until all 20 have
// exited 0, which they do only once the collector has confirmed that everything is fsync'd.
// The collector's CPU time and peak RSS are read from /proc. The peers (`peers.sh
// ref_sink_fsync rsyslog_tcp rsyslog_tcp_sync syslogng_tcp_fsync`) run in the same invocation,
// interleaved with our repetitions, so the ratios printed at the end come from one run.
// The `[[listen]]` rows (listen-rows.ts: syslog over TCP and TLS, RELP) run in the same
// repetitions, each beside its rsyslog peer fed by the same generator.
//
//   env: PEERBENCH (default ../shared/peerbench), PEERBENCH_DIR (default /tmp/peerbench),
//        REPS (default 3), PEERS (space-separated configs; "" to measure logward alone),
//        ROWS (logward's rows: default "qrexec tcp tls relp"; tcp, tls and relp each add their
//        rsyslog peer: rsyslog_tcp, rsyslog_tls, rsyslog_relp),
//        ROWS may also name "qsocket": the socket-service path, no `ingest` process (below),
//        SEAL=1 (adds the qrexec row on a sealed store: `logward seal init` on the fresh store,
//        `[seal] interval = "1s"`, so serve seals every stream and moves its key every second;
//        run in the same repetitions as the unsealed row, in alternating order)

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { freshBundle } from "../bin/fresh-bundle.js";
import { summarizeStreams } from "../src/query/summary.ts";
import {
  LISTEN_LABELS,
  LISTEN_PEER,
  type ListenBench,
  type ListenRow,
  type ListenRun,
  logwardListenRun,
  prepareListenBench,
  rsyslogTlsRun,
} from "./listen-rows.ts";
import { startServe } from "./serve-proc.ts";

const PROJECT = resolve(import.meta.dirname, "..");
const BIN = join(PROJECT, "bin/logward.js");
const PEERBENCH = process.env.PEERBENCH ?? resolve(PROJECT, "../shared/peerbench");
const WORK = process.env.PEERBENCH_DIR ?? "/tmp/peerbench";
const CORPUS = join(WORK, "corpus");
const PEERS = (process.env.PEERS ?? "ref_sink_fsync rsyslog_tcp rsyslog_tcp_sync syslogng_tcp_fsync")
  .split(/\s+/)
  .filter(Boolean);
const ROWS = (process.env.ROWS ?? "qrexec qsocket tcp tls relp").split(/\s+/).filter(Boolean);
const SEAL = process.env.SEAL === "1";
const LISTEN_ROWS = (["tcp", "tls", "relp"] as const).filter((r) => ROWS.includes(r));
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** sender_cpu_us_per_line: what delivering costs outside the collector (the qrexec rows). */
type Run = ListenRun & { sender_cpu_us_per_line?: number };

/** User + system CPU seconds of a process, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime +
 * cstime): around Promise.all of the senders, the `ingest` relays (or the socket row's feeders).
 */
function reapedChildrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "latin1");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / TICKS;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Verification keys of the sealed stores, by store. */
const SEAL_KEYS = new Map<string, string>();

/** `logward seal init` on a fresh store with a 1 s interval; the config file serve must use. */
function sealStore(store: string): string {
  const config = `${store}.toml`;
  writeFileSync(config, '[seal]\ninterval = "1s"\n');
  const init = spawnSync(process.execPath, [BIN, "seal", "init", "--store", store, "--config", config], {
    encoding: "utf8",
  });
  if (init.status !== 0) throw new Error(`seal init failed: ${init.stderr}`);
  SEAL_KEYS.set(store, init.stdout.trim().split("\n").at(-1)!);
  return config;
}

function ingest(store: string, origin: string): Promise<number | null> {
  const fd = openSync(join(CORPUS, `${origin}.log`), "r");
  const proc = spawn(process.execPath, [BIN, "ingest", "--format", "lines", "--store", store], {
    stdio: [fd, "ignore", "inherit"],
    env: { PATH: process.env.PATH, QREXEC_REMOTE_DOMAIN: origin, QREXEC_SERVICE_ARGUMENT: "main" },
  });
  closeSync(fd);
  return new Promise((r) => proc.once("exit", (code) => r(code)));
}

/**
 * The socket-service path: qrexec (Qubes 4.1+) connects to the collector's socket itself and
 * starts no process. Simulated as qrexec-agent does it (QubesOS/qubes-core-qrexec
 * libqrexec/exec.c, execute_parsed_qubes_rpc_command: after connect() it queues
 * "<service>[+<argument>] <source-domain>" and its NUL ahead of the caller's data, and then
 * relays that socket both ways, libqrexec/process_io.c): per origin a C relay (socat, standing
 * in for qrexec-agent's copy loop) fed by printf of the descriptor then cat of the corpus file.
 * socat half-closes at the end of its input and exits when the collector closes the
 * connection, which it does only once everything received is fsync'd (PROTOCOL.md).
 */
function socketService(sock: string, origin: string): Promise<number | null> {
  const feed = `(printf 'logward.Lines+main %s\\0' "$O"; cat "$F") | socat -t 600 -b 262144 - "UNIX-CONNECT:$S"`;
  const proc = spawn("sh", ["-c", feed], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { PATH: process.env.PATH, O: origin, F: join(CORPUS, `${origin}.log`), S: sock },
  });
  return new Promise((r) => proc.once("exit", (code) => r(code)));
}

async function ours(
  hosts: string[],
  corpusLines: Map<string, number>,
  corpusBytes: number,
  sealed = false,
  via: "exec" | "socket" = "exec",
): Promise<Run> {
  const store = join(
    WORK,
    sealed ? "logward-ingest-sealed" : via === "socket" ? "logward-qsocket" : "logward-ingest",
  );
  await rm(store, { recursive: true, force: true });
  const sock = `${store}.sock`;
  let config = sealed ? sealStore(store) : undefined;
  if (via === "socket") {
    config = `${store}.toml`;
    writeFileSync(config, `[collector]\nqrexec_sockets = ["${sock}"]\n`);
  }
  const serve = await startServe(BIN, store, config);
  const pid = serve.pid!;
  const cpu0 = cpuSeconds(pid);
  const senders0 = reapedChildrenCpuSeconds();
  const t0 = performance.now();
  const codes = await Promise.all(
    hosts.map((h) => (via === "socket" ? socketService(sock, h) : ingest(store, h))),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const senders = reapedChildrenCpuSeconds() - senders0;
  const rss = peakRssMiB(pid);
  serve.kill("SIGTERM");
  const exit = await new Promise<number | null>((r) => serve.once("exit", (c) => r(c)));
  if (codes.some((c) => c !== 0) || exit !== 0) {
    throw new Error(`an ingest or the collector failed: ingest exits ${codes.join(",")}, serve ${exit}`);
  }
  // every line of every origin is stored, once: the corpus count plus one open and one close
  const rows = await summarizeStreams(store);
  let lines = 0;
  for (const h of hosts) {
    const row = rows.find((r) => r.origin === h && r.stream === "main");
    const want = corpusLines.get(h)!;
    // a sealed stream also holds its !seal records (verified below)
    if (!row || (sealed ? row.records < want + 2 : row.records !== want + 2)) {
      throw new Error(`${h}: stored ${row ? row.records - 2 : 0} records, the corpus has ${want}`);
    }
    lines += want;
  }
  if (sealed) {
    const v = spawnSync(process.execPath, [BIN, "verify", "--store", store, "--key", SEAL_KEYS.get(store)!], {
      encoding: "utf8",
    });
    if (v.status !== 0) throw new Error(`the sealed store does not verify: ${v.stderr}`);
  }
  await rm(store, { recursive: true, force: true });
  return {
    config: sealed ? "logward_ingest_sealed" : via === "socket" ? "logward_qsocket" : "logward_ingest",
    lines,
    bytes: corpusBytes,
    wall_s: Number(wall.toFixed(3)),
    lines_per_s: Math.round(lines / wall),
    MB_per_s: Number((corpusBytes / wall / 1e6).toFixed(1)),
    cpu_us_per_line: Number(((cpu * 1e6) / lines).toFixed(3)),
    peak_rss_mib: Math.round(rss),
    sender_cpu_us_per_line: Number(((senders * 1e6) / lines).toFixed(3)),
  };
}

function peerRun(config: string, corpusBytes: number): Run | null {
  const r = spawnSync(join(PEERBENCH, "peers.sh"), [config], {
    env: { ...process.env, REPS: "1", PEERBENCH_DIR: WORK },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .at(-1);
  if (r.status !== 0 || !line) {
    process.stderr.write(`peers.sh ${config} failed (${r.status}): ${r.stderr.slice(-500)}\n`);
    return null;
  }
  const j = JSON.parse(line) as Record<string, number>;
  return {
    config,
    lines: j.lines_out!,
    bytes: corpusBytes,
    wall_s: j.wall_s!,
    lines_per_s: j.lines_per_s!,
    MB_per_s: j.MB_per_s!,
    cpu_us_per_line: Number(((j.rx_cpu_s! * 1e6) / j.lines_out!).toFixed(3)),
    peak_rss_mib: Math.round(j.rx_peak_rss_kb! / 1024),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const LABELS: Record<string, string> = {
  logward_ingest: "logward: 20 × ingest → serve, durable",
  logward_qsocket: "logward: 20 qrexec socket-service connections → serve (no ingest), durable",
  logward_ingest_sealed: "logward, the same on a sealed store (seals and a new key every 1 s)",
  ref_sink_fsync: "C sink, fdatasync every 256 KiB (durable limit)",
  ref_sink: "C sink, plain write()",
  rsyslog_tcp: "rsyslog imtcp → per-host file (not durable)",
  rsyslog_tcp_sync: "rsyslog, sync on (durable)",
  syslogng_tcp: "syslog-ng network → per-host file (not durable)",
  syslogng_tcp_fsync: "syslog-ng, fsync(yes) (durable)",
  ...LISTEN_LABELS,
};

/** A listener row's run, or its peer's (rsyslog_tls here, the others through peers.sh). */
async function listenRun(b: ListenBench, name: string, corpusBytes: number): Promise<Run | null> {
  try {
    if (name === "rsyslog_tls") return await rsyslogTlsRun(b);
    if (name.startsWith("logward_")) return await logwardListenRun(b, name.slice(8) as ListenRow);
    return peerRun(name, corpusBytes);
  } catch (err) {
    process.stderr.write(`${name} failed: ${(err as Error).message}\n`);
    return null;
  }
}

async function main(): Promise<void> {
  // qrexec starts `logward ingest` 20 times a run: from a stale start-up bundle it runs from the
  // sources (0.08 s of CPU a start instead of 0.05 s here), which is not what npm ci installs
  if (ROWS.includes("qrexec") && freshBundle(PROJECT, "ingest") === null) {
    process.stderr.write("the ingest start-up bundle is stale: npm run build\n");
    execFileSync(process.execPath, [join(PROJECT, "scripts/build.ts")], { stdio: "inherit" });
  }
  execFileSync(join(PEERBENCH, "corpus.sh"), {
    env: { ...process.env, PEERBENCH_DIR: WORK },
    stdio: "inherit",
  });
  const hosts = readFileSync(join(CORPUS, "hosts.txt"), "latin1").split(/\s+/).filter(Boolean);
  const corpusLines = new Map<string, number>();
  let corpusBytes = 0;
  for (const h of hosts) {
    const text = readFileSync(join(CORPUS, `${h}.log`));
    let n = 0;
    for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) n++;
    if (text.length > 0 && text[text.length - 1] !== 10) n++;
    corpusLines.set(h, n);
    corpusBytes += statSync(join(CORPUS, `${h}.log`)).size;
  }
  const reps = Number(process.env.REPS ?? 3);
  const qrexec = ROWS.includes("qrexec");
  const qsocket = ROWS.includes("qsocket");
  const listen = [
    ...LISTEN_ROWS.map((r) => `logward_${r}`),
    ...LISTEN_ROWS.map((r) => LISTEN_PEER[r]).filter((p) => !PEERS.includes(p)),
  ];
  const bench =
    listen.length > 0
      ? prepareListenBench({
          project: PROJECT,
          work: WORK,
          corpus: CORPUS,
          hosts,
          corpusLines,
          corpusBytes,
          cpuSeconds,
          peakRssMiB,
        })
      : null;
  const runs = new Map<string, Run[]>([
    ...(qrexec ? [["logward_ingest", []] as [string, Run[]]] : []),
    ...(qrexec && SEAL ? [["logward_ingest_sealed", []] as [string, Run[]]] : []),
    ...(qsocket ? [["logward_qsocket", []] as [string, Run[]]] : []),
    ...listen.map((p) => [p, []] as [string, Run[]]),
    ...PEERS.map((p) => [p, []] as [string, Run[]]),
  ]);
  for (let rep = 1; rep <= reps; rep++) {
    // interleaved: one run of each configuration per repetition, so all see the same machine
    if (qrexec) {
      // sealed and unsealed in alternating order, so that neither always runs on a warmer machine
      const order = SEAL ? (rep % 2 === 1 ? [false, true] : [true, false]) : [false];
      for (const sealed of order) {
        const run = await ours(hosts, corpusLines, corpusBytes, sealed);
        runs.get(run.config)!.push(run);
        process.stderr.write(`rep ${rep} ${JSON.stringify(run)}\n`);
      }
    }
    if (qsocket) {
      const run = await ours(hosts, corpusLines, corpusBytes, false, "socket");
      runs.get(run.config)!.push(run);
      process.stderr.write(`rep ${rep} ${JSON.stringify(run)}\n`);
    }
    for (const name of listen) {
      // TLS rows need tlsgen, which needs gcc and libssl-dev
      if (name.endsWith("_tls") && !bench!.tlsgen) continue;
      const r = await listenRun(bench!, name, corpusBytes);
      if (r) runs.get(name)!.push(r);
      if (r) process.stderr.write(`rep ${rep} ${JSON.stringify(r)}\n`);
    }
    for (const p of PEERS) {
      const r = peerRun(p, corpusBytes);
      if (r) runs.get(p)!.push(r);
      if (r) process.stderr.write(`rep ${rep} ${JSON.stringify(r)}\n`);
    }
  }
  const medianLps = (name: string) => {
    const rs = runs.get(name) ?? [];
    return rs.length > 0 ? median(rs.map((r) => r.lines_per_s)) : Number.NaN;
  };
  const mine = medianLps("logward_ingest");
  // the qrexec row and its peers are compared with the qrexec row; a listener row's peer also
  // (or only) with that row: same transport, same generator
  const ratioCell = (name: string, peerLps: number) => {
    const cells = [];
    if (!Number.isNaN(mine) && (name === "logward_ingest" || PEERS.includes(name)))
      cells.push((mine / peerLps).toFixed(2));
    for (const r of LISTEN_ROWS) {
      if (LISTEN_PEER[r] === name)
        cells.push(`${(medianLps(`logward_${r}`) / peerLps).toFixed(2)} (${r} row)`);
    }
    return cells.join("; ");
  };
  const total = [...runs.values()].find((rs) => rs.length > 0)?.[0]?.lines ?? 0;
  console.log(
    `\nCollector end to end, peerbench corpus (${total} lines, ${hosts.length} origins), medians of ${reps}:\n`,
  );
  console.log(
    "| configuration | lines/s | MB/s | receiver CPU µs/line | peak RSS | logward ÷ this | all runs (k lines/s) |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const [name, rs] of runs) {
    if (rs.length === 0) {
      console.log(`| ${LABELS[name] ?? name} | not measured | | | | | |`);
      continue;
    }
    const lps = median(rs.map((r) => r.lines_per_s));
    console.log(
      `| ${LABELS[name] ?? name} | ${Math.round(lps / 1000)} k | ${median(rs.map((r) => r.MB_per_s))} | ` +
        `${median(rs.map((r) => r.cpu_us_per_line))} | ${median(rs.map((r) => r.peak_rss_mib))} MiB | ` +
        `${ratioCell(name, lps)} | ${rs.map((r) => Math.round(r.lines_per_s / 1000)).join(", ")} |`,
    );
  }
  if (qrexec && SEAL) {
    const cost = 1 - medianLps("logward_ingest_sealed") / mine;
    console.log(
      `\nsealing costs ${(cost * 100).toFixed(1)}% of the qrexec row's throughput (issue 18: at most 3%)`,
    );
  }
  if (LISTEN_ROWS.length > 0)
    console.log("\nSame transport, same generator, same run (logward durable ÷ peer):");
  for (const r of LISTEN_ROWS) {
    const peer = LISTEN_PEER[r];
    console.log(
      `  ${r}: logward_${r} ÷ ${peer} = ${(medianLps(`logward_${r}`) / medianLps(peer)).toFixed(2)}`,
    );
  }
  if (LISTEN_ROWS.includes("tls")) {
    const met = medianLps("logward_tls") >= medianLps("rsyslog_tls");
    console.log(`goal: logward's durable TLS at least rsyslog's non-durable TLS: ${met ? "met" : "NOT met"}`);
  }
  // issue 20's goals, each from this one run
  const row = (name: string, field: keyof Run) => {
    const rs = runs.get(name) ?? [];
    return rs.length > 0 ? median(rs.map((r) => Number(r[field]))) : Number.NaN;
  };
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  if (qrexec) {
    const ratio = mine / medianLps("rsyslog_tcp");
    const rss = row("logward_ingest", "peak_rss_mib");
    const cpu = row("logward_ingest", "cpu_us_per_line");
    console.log("\nqrexec exec path (issue 20, goal 1):");
    console.log(`  logward_ingest ÷ rsyslog_tcp = ${ratio.toFixed(2)} (goal ≥ 2.0: ${verdict(ratio >= 2)})`);
    console.log(`  collector peak RSS ${rss} MiB (goal ≤ 96: ${verdict(rss <= 96)})`);
    console.log(`  receiver CPU ${cpu} µs/line (goal ≤ 0.8: ${verdict(cpu <= 0.8)})`);
    console.log(
      `  the 20 ingest relays: ${row("logward_ingest", "sender_cpu_us_per_line")} µs/line of CPU (start-up and copying)`,
    );
  }
  if (qsocket) {
    const lps = medianLps("logward_qsocket");
    console.log("\nqrexec socket-service path, no ingest process (issue 20, goal 2):");
    console.log(
      `  ${Math.round(lps / 1000)} k lines/s, ${row("logward_qsocket", "cpu_us_per_line")} µs/line, ` +
        `${row("logward_qsocket", "peak_rss_mib")} MiB; ÷ ref_sink_fsync = ${(lps / medianLps("ref_sink_fsync")).toFixed(2)}, ` +
        `÷ rsyslog_tcp = ${(lps / medianLps("rsyslog_tcp")).toFixed(2)}` +
        (qrexec ? `, ÷ the exec path = ${(lps / mine).toFixed(2)}` : "") +
        `; its feeders (printf, cat, socat) ${row("logward_qsocket", "sender_cpu_us_per_line")} µs/line`,
    );
  }
  console.log("\ntarget: at least 1,000,000 lines/s durable, collector peak RSS under 128 MiB");
}

await main();
