// Running the real `logward ship` and `logward serve` in a test file, with every process it
// starts tracked, so that whatever a failed test leaves running is killed and the run ends.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN } from "./cli.ts";
import { type Daemon, serve } from "./daemon.ts";

export interface Ship {
  proc: ChildProcess;
  exited: Promise<number | null>;
  err: () => string;
}

/** A ship and the serve it sends to, for the kill tests. */
export interface KillPair {
  readonly daemon: Daemon;
  readonly sender: Ship;
  /** SIGKILL of ship (started again with its arguments) or of serve (started again after up to 0.2 s). */
  kill(which: "ship" | "serve"): Promise<void>;
  /** A last SIGKILL of ship, then its arguments and `--once` until done: it must exit 0. Serve runs on. */
  finish(): Promise<void>;
}

/** The calling test file's process tracker; everything it holds is SIGKILLed after the file. */
export function tracked() {
  const running = new Set<ChildProcess>();
  after(() => {
    for (const p of running) p.kill("SIGKILL");
  });
  /** `logward serve` on `store`, killed after the file if a test leaves it running. */
  async function collector(store: string, config?: string): Promise<Daemon> {
    const d = await serve(store, config);
    running.add(d.proc);
    return d;
  }
  /** `logward ship --retry-max 1s ARGS...`, its stderr kept. */
  function ship(args: string[]): Ship {
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
  }
  /** serve on `store` and `start(args)` (a ship), killed and started again as a KillPair. */
  async function killPair(
    store: string,
    args: string[],
    start: (args: string[]) => Ship = ship,
  ): Promise<KillPair> {
    let daemon = await collector(store);
    let sender = start(args);
    return {
      get daemon() {
        return daemon;
      },
      get sender() {
        return sender;
      },
      async kill(which) {
        if (which === "ship") {
          sender.proc.kill("SIGKILL");
          await sender.exited;
          sender = start(args);
        } else {
          daemon.proc.kill("SIGKILL");
          await daemon.stop();
          await sleep(Math.random() * 200);
          daemon = await collector(store);
        }
      },
      async finish() {
        sender.proc.kill("SIGKILL");
        await sender.exited;
        const last = start([...args, "--once"]);
        assert.equal(await last.exited, 0, last.err());
      },
    };
  }
  return { running, collector, ship, killPair };
}
