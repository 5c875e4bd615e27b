// The `[[listen]]` rows of `npm run bench`: logward's syslog TCP, syslog TLS and RELP listeners
// on the peerbench corpus, and rsyslog's TLS listener fed by the same TLS generator, so the
// ratios of each transport come from one run and one generator.
//
// - tcp:  peerbench's loadgen (20 connections), `origin = "address"`;
// - tls:  tlsgen.c (this folder; loadgen over OpenSSL, one client certificate per origin, CN =
//         the origin), `origin = "cert"`, mutual authentication; its peer is rsyslog imtcp with
//         the ossl driver and x509/certvalid (rsyslog_tls.conf), measured as peerbench's
//         bench.py measures its peers (end = the newest output file's mtime, no fsync);
// - relp: peerbench's relpgen (window 128), `origin = "address"`; its peer is peerbench's
//         rsyslog_relp (imrelp) through peers.sh.
// loadgen and relpgen connect from 127.0.0.1 only; srcbind.c (an LD_PRELOAD shim) binds each
// connection to 127.0.0.(10 + its file's index), so the address origins are 20, one per corpus
// file. logward's clock runs from the generator's start (all connections up, handshakes done)
// to the last connection closed by logward, which it does only once all it stored is fsync'd.
// Every origin must hold exactly its corpus file's line count (plus its session's open and
// close), as in the qrexec row.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { summarizeStreams } from "../src/query/summary.ts";
import { freePort, startServe } from "./serve-proc.ts";

/** One measured run: a row of ingest.bench.ts, and store.bench.ts's rows extend it. */
export interface ListenRun {
  config: string;
  lines: number;
  bytes: number;
  wall_s: number;
  lines_per_s: number;
  MB_per_s: number;
  cpu_us_per_line: number;
  peak_rss_mib: number;
}

export type ListenRow = "tcp" | "tls" | "relp";

/** What every run needs: where things are and what the corpus holds. */
export interface ListenBench {
  project: string;
  work: string;
  corpus: string;
  hosts: string[];
  corpusLines: Map<string, number>;
  corpusBytes: number;
  cpuSeconds: (pid: number) => number;
  peakRssMiB: (pid: number) => number;
  /** Built by prepareListenBench: tlsgen (null when it cannot be built) and srcbind.so. */
  tlsgen: string | null;
  srcbind: string;
  pki: string | null;
}

export const LISTEN_LABELS: Record<string, string> = {
  logward_tcp: "logward: syslog TCP listener (loadgen), durable",
  logward_tls: "logward: syslog TLS listener, mutual auth (tlsgen), durable",
  logward_relp: "logward: RELP listener (relpgen, window 128), answered once fsync'd",
  rsyslog_tls: "rsyslog imtcp TLS, ossl, mutual auth (tlsgen) → per-host file (not durable)",
  rsyslog_relp: "rsyslog imrelp (relpgen, window 128) → per-host file (not durable)",
};

/** Each listener row's peer: same transport, same generator. */
export const LISTEN_PEER: Record<ListenRow, string> = {
  tcp: "rsyslog_tcp",
  tls: "rsyslog_tls",
  relp: "rsyslog_relp",
};

const SRCBIND_BASE = 10;
const RUN_LIMIT_S = 420;

/** Compiles tlsgen and srcbind.so into WORK/listen-bin and makes the PKI; once per invocation. */
export function prepareListenBench(b: Omit<ListenBench, "tlsgen" | "srcbind" | "pki">): ListenBench {
  const bin = join(b.work, "listen-bin");
  mkdirSync(bin, { recursive: true });
  const here = join(b.project, "bench");
  const srcbind = join(bin, "srcbind.so");
  execFileSync("gcc", ["-O2", "-shared", "-fPIC", "-o", srcbind, join(here, "srcbind.c"), "-ldl"]);
  let tlsgen: string | null = join(bin, "tlsgen");
  let pki: string | null = null;
  try {
    execFileSync("gcc", ["-O2", "-o", tlsgen, join(here, "tlsgen.c"), "-lssl", "-lcrypto", "-lpthread"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    pki = makePki(join(b.work, "listen-pki"), b.hosts);
  } catch (err) {
    process.stderr.write(
      `tlsgen cannot be built (gcc and libssl-dev are needed): ${(err as Error).message}\n`,
    );
    tlsgen = null;
  }
  return { ...b, tlsgen, srcbind, pki };
}

/** A CA, a server certificate for 127.0.0.1 and one client certificate per host (CN = host). */
function makePki(dir: string, hosts: string[]): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ossl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  ossl([
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "7",
    "-subj",
    "/CN=bench CA",
  ]);
  const sign = (name: string, usage: string, san: string) => {
    writeFileSync(
      join(dir, `${name}.ext`),
      `extendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n${san ? `subjectAltName=${san}\n` : ""}`,
    );
    ossl(["req", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
    ossl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat([
        "-out",
        `${name}.crt`,
        "-days",
        "7",
        "-extfile",
        `${name}.ext`,
      ]),
    );
  };
  sign("server", "serverAuth", "DNS:localhost,IP:127.0.0.1");
  for (const h of hosts) sign(h, "clientAuth", "");
  return dir;
}

function listenConfig(row: ListenRow, port: number, pki: string | null): string {
  const lines = ["[ui]", "enabled = false", "", "[[listen]]"];
  lines.push(`protocol = "${row === "relp" ? "relp" : "syslog"}"`);
  lines.push(`transport = "${row === "tls" ? "tls" : "tcp"}"`, `address = "127.0.0.1:${port}"`);
  if (row === "tls") {
    lines.push(`tls_cert = "${join(pki!, "server.crt")}"`, `tls_key = "${join(pki!, "server.key")}"`);
    lines.push(`tls_ca = "${join(pki!, "ca.crt")}"`, 'origin = "cert"');
  } else lines.push('origin = "address"');
  return `${lines.join("\n")}\n`;
}

/** Runs a generator to its end; its one output line carries t_start and t_end. */
function generate(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  p.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((r) => p.once("exit", (code) => r({ code, out })));
}

function stamp(out: string, key: "t_start" | "t_end"): number {
  const m = new RegExp(`${key}=([0-9.]+)`).exec(out);
  if (!m) throw new Error(`no ${key} in the generator's output: ${out}`);
  return Number(m[1]);
}

/** The generator of a row: command, arguments, environment. */
function generatorOf(b: ListenBench, row: ListenRow, port: number): [string, string[], NodeJS.ProcessEnv] {
  const files = b.hosts.map((h) => join(b.corpus, `${h}.log`));
  const target = ["-t", String(RUN_LIMIT_S), "127.0.0.1", String(port), ...files];
  if (row === "tls") {
    const pki = b.pki!;
    return [b.tlsgen!, ["-d", pki, "-a", join(pki, "ca.crt"), ...target], process.env];
  }
  const env = {
    ...process.env,
    LD_PRELOAD: b.srcbind,
    SRCBIND_FILES: b.hosts.map((h) => `${h}.log`).join(" "),
    SRCBIND_BASE: String(SRCBIND_BASE),
  };
  const bin = join(b.work, "bin", row === "relp" ? "relpgen" : "loadgen");
  return [bin, row === "relp" ? ["-w", "128", ...target] : target, env];
}

/** The origin logward gives host number `i`'s connection on a row's listener. */
function originOf(row: ListenRow, host: string, i: number): string {
  return row === "tls" ? host : `127.0.0.${SRCBIND_BASE + i}`;
}

/** One run of logward's `row` listener on a fresh store, verified per origin. */
export async function logwardListenRun(b: ListenBench, row: ListenRow): Promise<ListenRun> {
  const store = join(b.work, `logward-${row}`);
  await rm(store, { recursive: true, force: true });
  mkdirSync(store, { recursive: true });
  const port = await freePort();
  const config = join(b.work, `logward-${row}.toml`);
  writeFileSync(config, listenConfig(row, port, b.pki));
  const serve = await startServe(join(b.project, "bin/logward.js"), store, config);
  const pid = serve.pid!;
  const cpu0 = b.cpuSeconds(pid);
  const [cmd, args, env] = generatorOf(b, row, port);
  const gen = await generate(cmd, args, env);
  const cpu = b.cpuSeconds(pid) - cpu0;
  const rss = b.peakRssMiB(pid);
  serve.kill("SIGTERM");
  const exit = await new Promise<number | null>((r) => serve.once("exit", (c) => r(c)));
  if (gen.code !== 0 || exit !== 0) {
    throw new Error(`logward ${row}: generator exit ${gen.code} (${gen.out.trim()}), serve ${exit}`);
  }
  const wall = stamp(gen.out, "t_end") - stamp(gen.out, "t_start");
  const rows = await summarizeStreams(store);
  let lines = 0;
  b.hosts.forEach((h, i) => {
    const origin = originOf(row, h, i);
    const got = rows.find((r) => r.origin === origin && r.stream === "syslog");
    const want = b.corpusLines.get(h)!;
    // the corpus lines plus the session's open and close
    if (!got || got.records !== want + 2) {
      throw new Error(
        `logward ${row}: ${origin} (${h}) stored ${got ? got.records - 2 : 0} records, the corpus has ${want}`,
      );
    }
    lines += want;
  });
  await rm(store, { recursive: true, force: true });
  return runOf(`logward_${row}`, lines, b.corpusBytes, wall, cpu, rss);
}

function runOf(
  config: string,
  lines: number,
  bytes: number,
  wall: number,
  cpu: number,
  rss: number,
): ListenRun {
  return {
    config,
    lines,
    bytes,
    wall_s: Number(wall.toFixed(3)),
    lines_per_s: Math.round(lines / wall),
    MB_per_s: Number((bytes / wall / 1e6).toFixed(1)),
    cpu_us_per_line: Number(((cpu * 1e6) / lines).toFixed(3)),
    peak_rss_mib: Math.round(rss),
  };
}

/** Is something listening on 127.0.0.1:port (from /proc/net/tcp, no probe connection)? */
function listening(port: number): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/tcp", "latin1")
    .split("\n")
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === want && f[3] === "0A";
    });
}

/** Total size and newest mtime (seconds) of the files under `dir`. */
function outStats(dir: string): { size: number; mtime: number } {
  let size = 0;
  let mtime = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const st = statSync(join(e.parentPath, e.name));
    size += st.size;
    mtime = Math.max(mtime, st.mtimeMs / 1000);
  }
  return { size, mtime };
}

/**
 * Lines per host in rsyslog's output, by the host named in each line (its second field, as
 * rsyslog's file format writes it), over every per-host file; and how many lines sat in another
 * host's file. rsyslog 8.2302's omfile sometimes wrote the last lines of one connection into the
 * file of another (dynaFile, 1 run in 4 of bench-listen's 3 origins: 75 lines of lb-01 in
 * db-01's file, each whole and once): counting by file would blame the generator for that.
 */
export function hostLines(out: string): { perHost: Map<string, number>; misfiled: number } {
  const perHost = new Map<string, number>();
  let misfiled = 0;
  for (const dir of existsSync(out) ? readdirSync(out) : []) {
    const path = join(out, dir, "messages");
    if (!existsSync(path)) continue;
    const text = readFileSync(path);
    for (let s = 0, lf = text.indexOf(10); lf !== -1; s = lf + 1, lf = text.indexOf(10, s)) {
      const a = text.indexOf(32, s);
      const b = a === -1 || a > lf ? -1 : text.indexOf(32, a + 1);
      const host = b === -1 || b > lf ? "" : text.toString("latin1", a + 1, b);
      perHost.set(host, (perHost.get(host) ?? 0) + 1);
      if (host !== dir) misfiled++;
    }
  }
  return { perHost, misfiled };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * rsyslog's TLS listener fed by tlsgen, measured as bench.py measures its peers: from the
 * generator's start to the newest output file's mtime once neither the output nor rsyslog's
 * CPU time has changed for 1.5 s after the generator exited; lines counted per host file.
 */
export async function rsyslogTlsRun(b: ListenBench): Promise<ListenRun> {
  const name = "rsyslog_tls";
  const work = join(b.work, "work", name);
  const out = join(b.work, "out", name);
  rmSync(work, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  mkdirSync(out, { recursive: true });
  const port = await freePort();
  const pki = b.pki!;
  const conf = readFileSync(join(b.project, "bench/rsyslog_tls.conf"), "utf8")
    .replaceAll("@WORK@", work)
    .replaceAll("@PORT@", String(port))
    .replaceAll("@OUT@", out)
    .replaceAll("@CA@", join(pki, "ca.crt"))
    .replaceAll("@CERT@", join(pki, "server.crt"))
    .replaceAll("@KEY@", join(pki, "server.key"));
  writeFileSync(join(work, `${name}.conf`), conf);
  execFileSync("sync");
  const rs = spawn("/usr/sbin/rsyslogd", ["-n", "-f", join(work, `${name}.conf`), "-i", join(work, "pid")], {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: work,
  });
  let log = "";
  rs.stderr.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const rsExit = new Promise<number | null>((r) => rs.once("exit", (c) => r(c)));
  try {
    const t = Date.now();
    while (!listening(port)) {
      if (Date.now() - t > 20_000 || rs.exitCode !== null) throw new Error(`rsyslogd did not start: ${log}`);
      await sleep(20);
    }
    await sleep(300);
    const pid = rs.pid!;
    const cpu0 = b.cpuSeconds(pid);
    const files = b.hosts.map((h) => join(b.corpus, `${h}.log`));
    let gen: { code: number | null; out: string } | null = null;
    const running = generate(
      b.tlsgen!,
      ["-d", pki, "-a", join(pki, "ca.crt"), "-t", String(RUN_LIMIT_S)].concat([
        "127.0.0.1",
        String(port),
        ...files,
      ]),
      process.env,
    ).then((g) => {
      gen = g;
    });
    let last = { size: -1, cpu: -1 };
    let lastChange = Date.now();
    const started = Date.now();
    for (;;) {
      await sleep(20);
      const size = outStats(out).size;
      const cpu = b.cpuSeconds(pid);
      if (size !== last.size || cpu !== last.cpu) {
        last = { size, cpu };
        lastChange = Date.now();
      }
      if (gen !== null && Date.now() - lastChange >= 1500) break;
      if (Date.now() - started > RUN_LIMIT_S * 1000) throw new Error("rsyslog_tls: over the run limit");
    }
    await running;
    const g = gen as unknown as { code: number | null; out: string };
    const cpu = b.cpuSeconds(pid) - cpu0;
    const rss = b.peakRssMiB(pid);
    if (g.code !== 0) throw new Error(`rsyslog_tls: tlsgen exit ${g.code}: ${g.out.trim()}`);
    const wall = outStats(out).mtime - stamp(g.out, "t_start");
    let lines = 0;
    const { perHost, misfiled } = hostLines(out);
    for (const h of b.hosts) {
      const got = perHost.get(h) ?? 0;
      const want = b.corpusLines.get(h)!;
      if (got !== want) throw new Error(`rsyslog_tls: ${h} has ${got} lines, the corpus ${want}`);
      lines += got;
    }
    if (misfiled > 0) console.error(`rsyslog_tls: rsyslog wrote ${misfiled} lines into another host's file`);
    return runOf(name, lines, b.corpusBytes, wall, cpu, rss);
  } finally {
    rs.kill("SIGTERM");
    await rsExit;
    rmSync(out, { recursive: true, force: true });
  }
}
