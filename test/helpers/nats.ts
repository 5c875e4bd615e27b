// A real `nats-server -js` for the nats output tests and bench/nats.bench.ts: Debian's
// nats-server (scripts/install-nats.sh) on a private loopback port with its store in a temp
// dir, started, killed with kill -9 and started again on the same port and store; and reading
// back what a JetStream stream holds with the official client.

import { type ChildProcess, spawn } from "node:child_process";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type ConnectionOptions, connect } from "@nats-io/transport-node";

export const NATS_SERVER = process.env.LOGWARD_NATS_SERVER ?? "/usr/sbin/nats-server";

export interface NatsServer {
  url: string;
  start(): Promise<void>;
  /** kill -9, and waits for the process to be gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** A nats-server with JetStream on 127.0.0.1:`port`, its store under `dir`; `extra` arguments (auth). */
export function natsServer(dir: string, port: number, extra: readonly string[] = []): NatsServer {
  let proc: ChildProcess | null = null;
  let out = "";
  const gone = async (signal: NodeJS.Signals) => {
    const p = proc as ChildProcess | null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    async start() {
      proc = spawn(
        NATS_SERVER,
        ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", join(dir, "js"), ...extra],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      proc.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
      });
      proc.stderr!.on("data", (d: Buffer) => {
        out += d.toString();
      });
      const end = Date.now() + 15_000;
      while (!(await listening(port))) {
        if (Date.now() > end || proc.exitCode !== null) throw new Error(`nats-server did not start: ${out}`);
        await sleep(50);
      }
    },
    kill: () => gone("SIGKILL"),
    stop: () => gone("SIGTERM"),
    log: () => out,
  };
}

export interface StoredRecord {
  subject: string;
  origin: string;
  stream: string;
  seq: number;
  time: string;
  kind: string;
  msgId: string;
  data: Buffer;
}

/** Every message of the JetStream stream `name`, in stream order, read with an ordered consumer. */
export async function readJetStream(
  url: string,
  name: string,
  auth: Partial<ConnectionOptions> = {},
): Promise<StoredRecord[]> {
  const nc = await connect({ servers: url, ...auth });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(name)).state.messages;
    const out: StoredRecord[] = [];
    if (total === 0) return out;
    const consumer = await jetstream(nc).consumers.get(name);
    const messages = await consumer.consume();
    for await (const m of messages) {
      const h = m.headers!;
      out.push({
        subject: m.subject,
        origin: h.get("Logward-Origin"),
        stream: h.get("Logward-Stream"),
        seq: Number(h.get("Logward-Seq")),
        time: h.get("Logward-Time"),
        kind: h.get("Logward-Kind"),
        msgId: h.get("Nats-Msg-Id"),
        data: Buffer.from(m.data),
      });
      if (out.length >= total) break;
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}
