// Senders that honour the collector's resume point, as `logward ship` and the journald shell
// sender do, speaking through the real exec-service entry (`logward ingest`).
import { spawn } from "node:child_process";
import { type AgentEnd, encodeHello, encodeRecord, ReplyDecoder } from "../../src/wire/agent.ts";
import { RESUME_REQUEST } from "../../src/wire/journal.ts";
import { BIN } from "./cli.ts";

export interface AgentRun {
  code: number | null;
  welcome: number | null;
  acked: number;
  end: AgentEnd | null;
  stderr: string;
}

/**
 * One agent session: hello, wait for the welcome, send `next..total` from it, half-close.
 * `record(n)` is the payload of seq n. Resolves when `logward ingest` exits.
 */
export function agentSession(
  store: string,
  env: NodeJS.ProcessEnv,
  stream: string,
  spool: string,
  total: number,
  record: (n: number) => Buffer,
): Promise<AgentRun> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, "ingest", "--format", "agent", "--store", store], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH, QREXEC_SERVICE_ARGUMENT: stream, ...env },
    });
    const run: AgentRun = { code: null, welcome: null, acked: 0, end: null, stderr: "" };
    proc.stderr.on("data", (d: Buffer) => {
      run.stderr += d.toString();
    });
    proc.stdin.on("error", () => {});
    let stopped = false;
    const send = async (from: number) => {
      const BATCH = 200;
      for (let n = from; n <= total && !stopped; n += BATCH) {
        const parts: Buffer[] = [];
        for (let k = n; k < Math.min(n + BATCH, total + 1); k++) parts.push(encodeRecord(k, record(k)));
        if (!proc.stdin.write(Buffer.concat(parts)))
          await new Promise<void>((r) => {
            proc.stdin.once("drain", r);
            proc.once("exit", r);
          });
      }
      proc.stdin.end();
    };
    const decoder = new ReplyDecoder((r) => {
      if (r.type === "welcome") {
        run.welcome = r.seq;
        void send(r.seq + 1);
      } else if (r.type === "ack") {
        if (r.seq < run.acked) throw new Error(`acks went back from ${run.acked} to ${r.seq}`);
        run.acked = r.seq;
      } else run.end = r.end;
    });
    proc.stdout.on("data", (d: Buffer) => decoder.push(d));
    proc.stdin.write(encodeHello({ stream, spool }));
    proc.on("close", (code) => {
      stopped = true;
      run.code = code;
      resolve(run);
    });
  });
}

export interface JournalRun {
  code: number | null;
  cursor: string | null;
  stderr: string;
}

/**
 * One journal session as the shell sender runs it: "?resume", read the cursor, then the export
 * entries after it (`entry(n)` is entry n, cursor `i=<n>`), then end of input.
 */
export function journalSession(
  store: string,
  env: NodeJS.ProcessEnv,
  stream: string,
  total: number,
  entry: (n: number) => Buffer,
): Promise<JournalRun> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, "ingest", "--format", "journal", "--store", store], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH, QREXEC_SERVICE_ARGUMENT: stream, ...env },
    });
    const run: JournalRun = { code: null, cursor: null, stderr: "" };
    proc.stderr.on("data", (d: Buffer) => {
      run.stderr += d.toString();
    });
    proc.stdin.on("error", () => {});
    let stopped = false;
    let reply = "";
    const send = async (from: number) => {
      const BATCH = 100;
      for (let n = from; n <= total && !stopped; n += BATCH) {
        const parts: Buffer[] = [];
        for (let k = n; k < Math.min(n + BATCH, total + 1); k++) parts.push(entry(k));
        if (!proc.stdin.write(Buffer.concat(parts)))
          await new Promise<void>((r) => {
            proc.stdin.once("drain", r);
            proc.once("exit", r);
          });
      }
      proc.stdin.end();
    };
    proc.stdout.on("data", (d: Buffer) => {
      if (run.cursor !== null) throw new Error(`the collector wrote more than the resume line: ${d}`);
      reply += d.toString("latin1");
      const nl = reply.indexOf("\n");
      if (nl === -1) return;
      const line = reply.slice(0, nl);
      if (!line.startsWith("cursor=")) throw new Error(`bad resume reply: ${line}`);
      run.cursor = line.slice("cursor=".length);
      const m = /;i=(\d+)$/.exec(run.cursor);
      void send(m ? Number(m[1]) + 1 : 1);
    });
    proc.stdin.write(RESUME_REQUEST);
    proc.on("close", (code) => {
      stopped = true;
      run.code = code;
      resolve(run);
    });
  });
}

/** A journal export entry with a cursor that names its number. */
export function journalEntry(n: number): Buffer {
  const blob = Buffer.from(`bin\n${n}\0\xff`, "latin1");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(blob.length));
  return Buffer.concat([
    Buffer.from(
      `__CURSOR=s=4b3a;i=${n}\n__REALTIME_TIMESTAMP=${1_700_000_000_000_000 + n}\nMESSAGE=entry ${n}\n`,
    ),
    Buffer.from("BLOB\n"),
    len,
    blob,
    Buffer.from("\n\n"),
  ]);
}
