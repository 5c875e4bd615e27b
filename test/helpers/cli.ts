import { spawn } from "node:child_process";
import { join } from "node:path";

export const BIN = join(import.meta.dirname, "../../bin/logward.js");

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real `logward` command with the Node that runs the tests. */
export function logward(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOGWARD_STORE: "", ...env },
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

/**
 * Runs the real `logward ARGS` on a terminal (a pty from util-linux script(1), which Debian
 * always has) and types `typed`; `screen` is what the terminal showed, stdout and stderr alike.
 */
export function onTerminal(args: string[], typed = ""): Promise<{ code: number | null; screen: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const cmd = [process.execPath, BIN, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, LOGWARD_STORE: "" },
    });
    const shown: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => shown.push(d));
    child.stderr.on("data", (d: Buffer) => shown.push(d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, screen: Buffer.concat(shown).toString() }));
    child.stdin.end(typed);
  });
}
