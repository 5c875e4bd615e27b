// npm run bench:nats — the JetStream publish rate of the `nats` output beside logward's own
// durable append rate, for docs/SCALING.md. Bounded and loopback only: a private
// `nats-server -js` (scripts/install-nats.sh) on a free 127.0.0.1 port with its store in a temp
// dir, and a temp logward store; both removed at the end.
//
// 1. Durable append into the store (the ingest path without the sockets), for few and many
//    origins: RECORDS records of ~120 bytes appended round-robin over ORIGINS origins, one
//    stream each, until every record is fsync'd. Many origins cost open files (the store keeps
//    max_open_streams = 256 active segments open) and smaller group commits per stream.
// 2. The nats output (src/output/nats.ts) publishing PUBLISH records to JetStream (file
//    storage), deliver() after deliver(), each resolved on JetStream's acks, for several batch
//    sizes, and with 4 batches in flight at once as a pipelining runner would.
//
//   env: RECORDS (default 200000), ORIGINS (default "20 200 1000"), PUBLISH (default 100000),
//        BATCHES (default "100 1000")

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { OutputConfig } from "../src/config/types.ts";
import type { OutRecord } from "../src/output/destination.ts";
import { NatsDestination } from "../src/output/nats.ts";
import { escapePayload } from "../src/store/escape.ts";
import { formatTime, parseTime } from "../src/store/record.ts";
import { Store } from "../src/store/store.ts";
import { freePort } from "./serve-proc.ts";

const RECORDS = Number(process.env.RECORDS ?? 200_000);
const ORIGINS = (process.env.ORIGINS ?? "20 200 1000").split(/\s+/).filter(Boolean).map(Number);
const PUBLISH = Number(process.env.PUBLISH ?? 100_000);
const BATCHES = (process.env.BATCHES ?? "100 1000").split(/\s+/).filter(Boolean).map(Number);
const NATS_SERVER = process.env.LOGWARD_NATS_SERVER ?? "/usr/sbin/nats-server";

const LINE = (i: number) =>
  `<134>1 2026-11-24T09:16:19.123456Z host app 1234 - - record ${i} of the scaling bench, padded to about 120 bytes\n`;

interface Row {
  what: string;
  records: number;
  seconds: number;
  per_s: number;
}

function row(what: string, records: number, ms: number): Row {
  const r = {
    what,
    records,
    seconds: Number((ms / 1000).toFixed(2)),
    per_s: Math.round(records / (ms / 1000)),
  };
  process.stderr.write(`${JSON.stringify(r)}\n`);
  return r;
}

/** Durable append of RECORDS records over `origins` origins, round-robin, 100 lines a turn. */
async function storeAppend(origins: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), "logward-bench-store-"));
  try {
    const store = await Store.open(dir);
    const names = Array.from({ length: origins }, (_, k) => `vm${k}`);
    const perTurn = 100;
    const chunk = Buffer.from(Array.from({ length: perTurn }, (_, i) => LINE(i)).join(""));
    const offsets = new Uint32Array(2 * perTurn);
    for (let i = 0, s = 0; i < perTurn; i++) {
      const e = chunk.indexOf(10, s);
      offsets[2 * i] = s;
      offsets[2 * i + 1] = e;
      s = e + 1;
    }
    const t0 = performance.now();
    let done = 0;
    for (let k = 0; done < RECORDS; k = (k + 1) % origins) {
      const w = await store.stream(names[k]!, "main");
      w.appendSlices(chunk, offsets, perTurn);
      done += perTurn;
      if (w.backlogged) await w.whenDrained();
      if (k === origins - 1) await new Promise<void>((r) => setImmediate(r)); // a socket turn
    }
    await store.flush();
    const ms = performance.now() - t0;
    await store.close();
    return row(`store: durable append, ${origins} origins`, done, ms);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function startNats(dir: string, port: number): Promise<ChildProcess> {
  const proc = spawn(NATS_SERVER, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir], {
    stdio: "ignore",
  });
  const end = Date.now() + 15_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: "127.0.0.1", port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (up) return proc;
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`${NATS_SERVER} did not start`);
    await sleep(50);
  }
}

function records(n: number, origins: number, prefix: string): OutRecord[] {
  const t0 = Date.now() * 1000;
  return Array.from({ length: n }, (_, i) => {
    const time = formatTime(t0 + i);
    const payload = escapePayload(Buffer.from(LINE(i).slice(0, -1)));
    const seq = Math.floor(i / origins) + 1;
    const origin = `${prefix}vm${i % origins}`;
    return {
      origin,
      stream: "main",
      seq,
      time,
      timeUs: parseTime(time),
      kind: ".",
      ref: undefined,
      line: Buffer.concat([Buffer.from(`${time} ${seq} . `), payload]),
      payload,
    };
  });
}

/** PUBLISH records through one NatsDestination; `inFlight` deliver() calls at once. */
async function publish(url: string, run: number, batch: number, inFlight: number): Promise<Row> {
  const config: OutputConfig = {
    name: "bench",
    type: "nats",
    match: "*",
    start: "oldest",
    command: null,
    file: "bench",
    options: {
      servers: [url],
      jetstream_stream: "BENCH",
      duplicate_window_ms: 120_000,
      tls_ca: null,
      tls_cert: null,
      tls_key: null,
    },
  };
  const d = new NatsDestination(config, {
    store: "",
    stateDir: "",
    log: () => {},
    acknowledged: () => {},
    signal: new AbortController().signal,
  });
  const recs = records(PUBLISH, 20, `run${run}-`);
  await d.deliver(recs.slice(0, 1)); // connect and create the stream outside the clock
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 1; i < recs.length; i += batch) {
    pending.push(d.deliver(recs.slice(i, i + batch)));
    if (pending.length >= inFlight) await pending.shift();
  }
  await Promise.all(pending);
  const ms = performance.now() - t0;
  await d.close();
  if (d.counts.published !== PUBLISH) throw new Error(`published ${d.counts.published} of ${PUBLISH}`);
  return row(`nats: JetStream publish, batch ${batch}, ${inFlight} in flight`, PUBLISH - 1, ms);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const n of ORIGINS) rows.push(await storeAppend(n));
  const dir = await mkdtemp(join(tmpdir(), "logward-bench-nats-"));
  const port = await freePort();
  const server = await startNats(dir, port);
  try {
    let k = 0;
    for (const batch of BATCHES) {
      rows.push(await publish(`nats://127.0.0.1:${port}`, k++, batch, 1));
      rows.push(await publish(`nats://127.0.0.1:${port}`, k++, batch, 4));
    }
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write("\n| what | records | seconds | records/s |\n|---|---|---|---|\n");
  for (const r of rows) process.stdout.write(`| ${r.what} | ${r.records} | ${r.seconds} | ${r.per_s} |\n`);
}

await main();
