// Starting the real daemon and the real exec-service entry, the way qrexec runs them.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { BIN } from "./cli.ts";

export interface Daemon {
  proc: ChildProcess;
  out: () => string;
  stop: () => Promise<number | null>;
}

/** `serve` refuses root without --allow-root; CI and the tests may run as root. */
export const ALLOW_ROOT: string[] = process.getuid?.() === 0 ? ["--allow-root"] : [];

/** Starts `logward serve` and resolves once it printed "ready". */
export function serve(store: string, config?: string, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const args = [BIN, "serve", "--store", store, ...ALLOW_ROOT];
  if (config !== undefined) {
    const file = join(store, "..", `config-${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(file, config);
    args.push("--config", file);
  }
  const proc = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOGWARD_UI_PORT: "0", ...env },
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const daemon: Daemon = {
    proc,
    out: () => out,
    stop: async () => {
      proc.kill("SIGTERM");
      return exited;
    },
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 15_000);
    proc.stdout!.on("data", () => {
      if (/ready/.test(out)) {
        clearTimeout(timer);
        resolve(daemon);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${out}`));
    });
  });
}

/** The web UI's address with its access token, as `serve` keeps it in <store>/run/ui-url. */
export function uiLogin(store: string): string {
  return readFileSync(join(store, "run", "ui-url"), "utf8").trim();
}

/** Runs `logward ingest` the way qrexec does: environment variables, stdin, stdout. */
export function ingest(
  store: string,
  format: string,
  input: Buffer | string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, "ingest", "--format", format, "--store", store], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH, ...env },
    });
    const out: Buffer[] = [];
    let err = "";
    proc.stdout.on("data", (d: Buffer) => out.push(d));
    proc.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    proc.stdin.on("error", () => {});
    proc.stdin.end(input);
    proc.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

/** A raw connection, as qrexec makes to a socket service. Resolves with what the daemon sent. */
export function rawSession(
  path: string,
  bytes: Buffer | string,
  keepOpen = false,
): { socket: Socket; done: Promise<Buffer> } {
  const socket = connect({ path, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("error", () => {});
  socket.on("end", () => socket.end()); // like qrexec: the daemon's end ends the call
  socket.write(bytes);
  if (!keepOpen) socket.end();
  return { socket, done: new Promise((r) => socket.on("close", () => r(Buffer.concat(chunks)))) };
}
