// npm run bench:verify — `logward verify` on a store the real collector sealed, filled with the
// peerbench corpus (2,000,000 RFC 5424 lines, 20 origins, ingested the way `npm run bench`
// does), beside `sha256sum` over the same stored text measured in the same run, interleaved: the
// figure to read is verify's MB/s of stored text (issue 18 asks for at least 500) and its ratio
// to sha256sum's (coreutils; `openssl dgst -sha256`, which uses the CPU's SHA instructions as
// Node's crypto does, is measured too). The store is filled once and kept (PEERBENCH_DIR/logward-verify, with its
// verification key beside it) unless FRESH=1; the stored text is also written once to one file
// (every segment decompressed, in order) for sha256sum to read.
//
//   env: PEERBENCH_DIR (default /tmp/peerbench), REPS (default 3), FRESH=1 refills the store,
//        VERIFY_ARGS (extra arguments for verify, e.g. "--json")

import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  createWriteStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { zstdDecompressSync } from "node:zlib";
import { ALLOW_ROOT } from "./allow-root.ts";

const PROJECT = resolve(import.meta.dirname, "..");
const BIN = join(PROJECT, "bin/logward.js");
const WORK = process.env.PEERBENCH_DIR ?? "/tmp/peerbench";
const CORPUS = join(WORK, "corpus");
const STORE = join(WORK, "logward-verify");
const KEY_FILE = join(WORK, "logward-verify.key");
const TEXT_FILE = join(WORK, "logward-verify.text");
const REPS = Number(process.env.REPS ?? 3);

function run(args: string[], stdin: number | "ignore" = "ignore", env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number | null; out: string }>((res) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      stdio: [stdin, "pipe", "inherit"],
      env: { ...process.env, ...env },
    });
    let out = "";
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.once("exit", (code) => res({ code, out }));
  });
}

/** seal init, serve, 20 ingests (one per origin, as qrexec runs them), stop: a sealed store. */
async function fill(): Promise<void> {
  rmSync(STORE, { recursive: true, force: true });
  rmSync(TEXT_FILE, { force: true });
  const init = await run(["seal", "init", "--store", STORE]);
  if (init.code !== 0) throw new Error("seal init failed");
  writeFileSync(KEY_FILE, `${init.out.trim().split("\n").at(-1)}\n`);
  const serve = spawn(process.execPath, [BIN, "serve", "--store", STORE, ...ALLOW_ROOT], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((res, rej) => {
    let out = "";
    serve.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) res();
    });
    serve.once("exit", (c) => rej(new Error(`serve exited with ${c}`)));
  });
  const hosts = readFileSync(join(CORPUS, "hosts.txt"), "latin1").split(/\s+/).filter(Boolean);
  const codes = await Promise.all(
    hosts.map((h) => {
      const fd = openSync(join(CORPUS, `${h}.log`), "r");
      const p = run(["ingest", "--format", "lines", "--store", STORE], fd, {
        QREXEC_REMOTE_DOMAIN: h,
        QREXEC_SERVICE_ARGUMENT: "main",
      });
      closeSync(fd);
      return p.then((r) => r.code);
    }),
  );
  serve.kill("SIGTERM");
  const exit = await new Promise<number | null>((r) => serve.once("exit", (c) => r(c)));
  if (codes.some((c) => c !== 0) || exit !== 0) throw new Error(`ingest ${codes.join(",")}, serve ${exit}`);
}

/** Every stored segment decompressed, streams and segments in order, into one file. */
async function storedText(): Promise<number> {
  if (existsSync(TEXT_FILE)) return statSync(TEXT_FILE).size;
  const out = createWriteStream(TEXT_FILE);
  async function* all(): AsyncGenerator<Buffer> {
    const origins = join(STORE, "origins");
    for (const o of readdirSync(origins).sort())
      for (const s of readdirSync(join(origins, o)).sort()) {
        const d = join(origins, o, s);
        for (const f of readdirSync(d)
          .filter((x) => /^\d+\.log(\.zst)?$/.test(x))
          .sort()) {
          const raw = readFileSync(join(d, f));
          yield f.endsWith(".zst") ? zstdDecompressSync(raw) : raw;
        }
      }
  }
  await pipeline(all, out);
  return statSync(TEXT_FILE).size;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (process.env.FRESH === "1" || !existsSync(KEY_FILE) || !existsSync(STORE)) {
    execFileSync("test", ["-s", join(CORPUS, "hosts.txt")]);
    process.stderr.write("filling the store with the peerbench corpus (sealed)...\n");
    await fill();
  }
  const key = readFileSync(KEY_FILE, "latin1").trim();
  const textBytes = await storedText();
  let diskBytes = 0;
  let compressed = 0;
  for (const o of readdirSync(join(STORE, "origins")))
    for (const s of readdirSync(join(STORE, "origins", o)))
      for (const f of readdirSync(join(STORE, "origins", o, s)).filter((x) => /^\d+\.log/.test(x))) {
        diskBytes += statSync(join(STORE, "origins", o, s, f)).size;
        if (f.endsWith(".zst")) compressed++;
      }
  const extra = (process.env.VERIFY_ARGS ?? "").split(/\s+/).filter(Boolean);
  const verifyS: number[] = [];
  const shaS: number[] = [];
  const sslS: number[] = [];
  const haveOpenssl = spawnSync("openssl", ["version"]).status === 0;
  for (let rep = 1; rep <= REPS; rep++) {
    // interleaved, page cache warm for both: both read the same text, one from the store
    let t0 = performance.now();
    const v = await run(["verify", "--store", STORE, "--key", key, ...extra]);
    const vs = (performance.now() - t0) / 1000;
    if (v.code !== 0) throw new Error(`verify failed: ${v.out}`);
    verifyS.push(vs);
    t0 = performance.now();
    const sha = spawnSync("sha256sum", [TEXT_FILE], { encoding: "latin1" });
    const ss = (performance.now() - t0) / 1000;
    if (sha.status !== 0) throw new Error("sha256sum failed");
    shaS.push(ss);
    if (haveOpenssl) {
      t0 = performance.now();
      spawnSync("openssl", ["dgst", "-sha256", TEXT_FILE]);
      sslS.push((performance.now() - t0) / 1000);
    }
    process.stderr.write(
      `rep ${rep}: verify ${vs.toFixed(3)} s (${(textBytes / vs / 1e6).toFixed(0)} MB/s), sha256sum ${ss.toFixed(3)} s (${(textBytes / ss / 1e6).toFixed(0)} MB/s)\n${v.out}`,
    );
  }
  const v = median(verifyS);
  const s = median(shaS);
  console.log(
    `\nverify, peerbench corpus sealed by serve: ${(textBytes / 1e6).toFixed(0)} MB of stored text (${(diskBytes / 1e6).toFixed(0)} MB on disk, ${compressed} compressed segments), medians of ${REPS}:\n`,
  );
  console.log("| command | wall s | MB/s of stored text | ÷ sha256sum | all runs (s) |");
  console.log("|---|---|---|---|---|");
  console.log(
    `| logward verify --key | ${v.toFixed(3)} | ${(textBytes / v / 1e6).toFixed(0)} | ${(s / v).toFixed(2)} | ${verifyS.map((x) => x.toFixed(2)).join(", ")} |`,
  );
  console.log(
    `| sha256sum (same text, one file) | ${s.toFixed(3)} | ${(textBytes / s / 1e6).toFixed(0)} | 1.00 | ${shaS.map((x) => x.toFixed(2)).join(", ")} |`,
  );
  if (sslS.length > 0) {
    const o = median(sslS);
    console.log(
      `| openssl dgst -sha256 (same text, hardware SHA) | ${o.toFixed(3)} | ${(textBytes / o / 1e6).toFixed(0)} | ${(s / o).toFixed(2)} | ${sslS.map((x) => x.toFixed(2)).join(", ")} |`,
    );
  }
  console.log("\ntarget: verify at least 500 MB/s of stored text");
}

await main();
