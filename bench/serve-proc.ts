// Starting the pieces a benchmark measures against: a `logward serve` child that has said
// "ready", and a TCP port free on loopback for a listener or a peer. Shared by
// ingest.bench.ts, listen-rows.ts and nats.bench.ts so each starts them the same way.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { ALLOW_ROOT } from "./allow-root.ts";

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Node flags for the serve child only (SERVE_NODE_ARGS, space-separated), e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" or "--perf-basic-prof": NODE_OPTIONS refuses
 * --cpu-prof, and would reach every ingest process too.
 */
const SERVE_NODE_ARGS = (process.env.SERVE_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);

/** Spawns `bin serve` on `store` (with `config` if given), resolved once it prints "ready". */
export function startServe(bin: string, store: string, config?: string): Promise<ChildProcess> {
  const proc = spawn(
    process.execPath,
    [
      ...SERVE_NODE_ARGS,
      bin,
      "serve",
      "--store",
      store,
      ...(config ? ["--config", config] : []),
      ...ALLOW_ROOT,
    ],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((res, rej) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) res(proc);
    });
    proc.once("exit", (code) => rej(new Error(`logward serve exited with ${code}: ${out}`)));
  });
}
