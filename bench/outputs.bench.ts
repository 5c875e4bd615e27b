// npm run bench:outputs — does an output slow ingest? The collector end to end (`logward serve`
// on a fresh store, ORIGINS concurrent `logward ingest --format lines`, each as qrexec runs it)
// with no output, beside the same with a dead output (an exec plugin that never reads its
// stdin: its pipe fills at once and stays full) and a live one (`cat > /dev/null`, which reads
// everything), in alternating order within each repetition. The clock runs from starting the
// ingest processes until all have exited 0 (everything fsync'd). Outputs read the store, never
// the ingest path (docs/OUTPUTS.md), so the ratios should be within noise of 1; the live
// output's reading costs CPU beside ingest, which a 2-core machine shows.
//
//   env: LINES (per origin, default 1000000), ORIGINS (default 4), REPS (default 3)

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ALLOW_ROOT } from "./allow-root.ts";

const BIN = resolve(import.meta.dirname, "../bin/logward.js");
const LINES = Number(process.env.LINES ?? 1_000_000);
const ORIGINS = Number(process.env.ORIGINS ?? 4);
const REPS = Number(process.env.REPS ?? 3);

const CONFIGS: Record<string, string> = {
  none: "",
  dead: `[[output]]\nname = "dead"\ntype = "exec"\ncommand = "exec sleep 100000"\n`,
  live: `[[output]]\nname = "live"\ntype = "exec"\ncommand = "exec cat > /dev/null"\n`,
};

function corpus(): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < LINES; i++)
    parts.push(`<13>1 2026-11-24T09:16:19.123456Z host app 123 - - bench line ${i} ${"x".repeat(60)}\n`);
  return Buffer.from(parts.join(""));
}

function run(cmd: string[], input: Buffer | null, env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((res) => {
    const p = spawn(process.execPath, cmd, { stdio: [input ? "pipe" : "ignore", "ignore", "inherit"], env });
    if (input) {
      p.stdin!.on("error", () => {});
      p.stdin!.end(input);
    }
    p.on("exit", (code) => res(code));
  });
}

async function once(name: string, data: Buffer): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "logward-bench-outputs-"));
  const store = join(dir, "store");
  const config = join(dir, "logward.toml");
  writeFileSync(config, CONFIGS[name]!);
  const serve = spawn(process.execPath, [BIN, "serve", "--store", store, "--config", config, ...ALLOW_ROOT], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, LOGWARD_UI_PORT: "off" },
  });
  await new Promise<void>((res) =>
    serve.stdout!.on("data", (d: Buffer) => /ready/.test(d.toString()) && res()),
  );
  const started = process.hrtime.bigint();
  const codes = await Promise.all(
    Array.from({ length: ORIGINS }, (_, i) =>
      run([BIN, "ingest", "--format", "lines", "--store", store], data, {
        PATH: process.env.PATH,
        QREXEC_REMOTE_DOMAIN: `vm${i + 1}`,
        QREXEC_SERVICE_ARGUMENT: "bench",
      }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (codes.some((c) => c !== 0)) throw new Error(`${name}: ingest exited with ${codes.join(",")}`);
  serve.kill("SIGTERM");
  await new Promise((res) => serve.once("exit", res));
  rmSync(dir, { recursive: true, force: true });
  return seconds;
}

const data = corpus();
const times: Record<string, number[]> = { none: [], dead: [], live: [] };
for (let rep = 0; rep < REPS; rep++) {
  const order = rep % 2 === 0 ? ["none", "dead", "live"] : ["live", "dead", "none"];
  for (const name of order) {
    const s = await once(name, data);
    times[name]!.push(s);
    console.log(
      `rep ${rep + 1} ${name.padEnd(4)} ${s.toFixed(2)} s  ${Math.round((LINES * ORIGINS) / s)} lines/s`,
    );
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (name: string) => (LINES * ORIGINS) / median(times[name]!);
console.log(`\n${LINES * ORIGINS} lines from ${ORIGINS} origins, median of ${REPS}:`);
for (const name of Object.keys(times))
  console.log(
    `  ${name.padEnd(4)} ${Math.round(rate(name))} lines/s  (ratio to none: ${(rate(name) / rate("none")).toFixed(3)})`,
  );
