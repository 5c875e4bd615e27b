// Running the real `logward ship` and `logward serve` in a test file, with every process it
// starts tracked, so that whatever a failed test leaves running is killed and the run ends.
import { type ChildProcess, spawn } from "node:child_process";
import { after } from "node:test";
import { BIN } from "./cli.ts";
import { type Daemon, serve } from "./daemon.ts";

export interface Ship {
  proc: ChildProcess;
  exited: Promise<number | null>;
  err: () => string;
}

/** The calling test file's process tracker; everything it holds is SIGKILLed after the file. */
export function tracked() {
  const running = new Set<ChildProcess>();
  after(() => {
    for (const p of running) p.kill("SIGKILL");
  });
  return {
    running,
    /** `logward serve` on `store`, killed after the file if a test leaves it running. */
    async collector(store: string, config?: string): Promise<Daemon> {
      const d = await serve(store, config);
      running.add(d.proc);
      return d;
    },
    /** `logward ship --retry-max 1s ARGS...`, its stderr kept. */
    ship(args: string[]): Ship {
      const proc = spawn(process.execPath, [BIN, "ship", "--retry-max", "1s", ...args], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      proc.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
      });
      running.add(proc);
      const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
      return { proc, exited, err: () => err };
    },
  };
}
