// The `nats` output (src/output/nats.ts) against a real `nats-server -js` (Debian's package,
// scripts/install-nats.sh) on a private port with a temp store: every record exactly once in
// the JetStream stream, read back and checked with the official client; nats-server killed
// with kill -9 and started again mid-stream: still every record exactly once; and a resend
// after the duplicate window has passed is still recognised (the last stored seq per subject).

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../src/config/load.ts";
import type { OutputConfig } from "../src/config/types.ts";
import type { OutRecord } from "../src/output/destination.ts";
import { createDestination, msgIdOf, subjectOf } from "../src/output/nats.ts";
import { formatTime } from "../src/store/record.ts";
import { destinationSuite } from "./helpers/destination-suite.ts";
import { type NatsServer, natsServer, readJetStream, type StoredRecord } from "./helpers/nats.ts";
import { deliverAll, outRecord } from "./helpers/out-records.ts";
import { freePort } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";

function natsOutput(url: string, extra: Record<string, unknown> = {}): OutputConfig {
  return {
    name: "bus",
    type: "nats",
    match: "*",
    start: "oldest",
    command: null,
    file: "test",
    options: {
      servers: [url],
      jetstream_stream: "LOGWARD",
      duplicate_window_ms: 120_000,
      tls_ca: null,
      tls_cert: null,
      tls_key: null,
      ...extra,
    },
  };
}

/** Records of two origins (one with a dot in its name) and two streams, interleaved. */
function records(n: number): OutRecord[] {
  const t0 = Date.parse("2026-11-24T09:16:19Z") * 1000;
  const seqs = new Map<string, number>();
  return Array.from({ length: n }, (_, i) => {
    const origin = i % 3 === 0 ? "vm2.work" : "vm1";
    const stream = i % 2 === 0 ? "syslog" : "journal";
    const key = `${origin}/${stream}`;
    const seq = (seqs.get(key) ?? 0) + 1;
    seqs.set(key, seq);
    return outRecord(
      origin,
      stream,
      seq,
      Buffer.from(`record ${i} \x1b[31m\xff`, "latin1"),
      formatTime(t0 + i),
    );
  });
}

/** Each record exactly once, with its bytes and headers. */
function assertExactlyOnce(sent: readonly OutRecord[], got: readonly StoredRecord[]): void {
  const byId = new Map<string, number>();
  for (const g of got) byId.set(g.msgId, (byId.get(g.msgId) ?? 0) + 1);
  const dups = [...byId].filter(([, c]) => c > 1);
  assert.deepEqual(dups.slice(0, 5), [], `duplicates in the stream (${dups.length})`);
  assert.equal(got.length, sent.length, "as many messages in the stream as records");
  const want = new Map(sent.map((r) => [msgIdOf(r), r]));
  for (const g of got) {
    const r = want.get(g.msgId);
    assert.ok(r, `a message that was never sent: ${g.msgId}`);
    assert.equal(g.subject, subjectOf(r.origin, r.stream));
    assert.deepEqual(
      [g.origin, g.stream, g.seq, g.time, g.kind],
      [r.origin, r.stream, r.seq, r.time, r.kind],
    );
  }
  // per stream, the seqs in order 1..n
  for (const key of new Set(sent.map((r) => `${r.origin}/${r.stream}`))) {
    const seqs = got.filter((g) => `${g.origin}/${g.stream}` === key).map((g) => g.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      `${key}: seqs 1..n in order`,
    );
  }
}

describe("nats output into nats-server -js", { timeout: 120_000 }, () => {
  test("every record exactly once: subject, Nats-Msg-Id, headers and the raw bytes", async (t) => {
    const dir = tempDir();
    const server = natsServer(dir, await freePort());
    await server.start();
    t.after(() => server.stop());
    const sent = records(3000);
    const logs: string[] = [];
    const result = await deliverAll(createDestination, natsOutput(server.url), sent, {
      batch: 200,
      log: (m) => logs.push(m),
    });
    assert.equal(result.failures, 0, result.errors.join("; "));
    assert.ok(logs.some((l) => l.includes("created the JetStream stream LOGWARD")));
    const got = await readJetStream(server.url, "LOGWARD");
    assertExactlyOnce(sent, got);
    const first = got.find((g) => g.msgId === "vm2.work/syslog/1")!;
    assert.equal(first.subject, "logward.vm2%2Ework.syslog");
    assert.deepEqual(first.data, Buffer.from("record 0 \x1b[31m\xff", "latin1")); // the sender's bytes, unescaped
  });

  test("nats-server killed with kill -9 and restarted mid-stream: still every record exactly once", async (t) => {
    const dir = tempDir();
    const server = natsServer(dir, await freePort());
    await server.start();
    t.after(() => server.stop());
    const N = 30_000;
    const sent = records(N);
    let killed = false;
    const result = await deliverAll(createDestination, natsOutput(server.url), sent, {
      batch: 500,
      onDelivered: async (count) => {
        if (killed || count < N / 3) return;
        killed = true;
        await server.kill();
        setTimeout(() => void server.start(), 500);
      },
    });
    assert.ok(killed);
    assert.ok(result.failures >= 1, "the kill failed a delivery");
    const got = await readJetStream(server.url, "LOGWARD");
    t.diagnostic(`${N} records, ${got.length} in JetStream, ${result.failures} failed deliveries`);
    assertExactlyOnce(sent, got);
  });

  test("a batch sent again after the duplicate window has passed is not stored twice", async (t) => {
    const dir = tempDir();
    const server = natsServer(dir, await freePort());
    await server.start();
    t.after(() => server.stop());
    const sent = records(1000);
    const out = natsOutput(server.url, { duplicate_window_ms: 1000 });
    await deliverAll(createDestination, out, sent.slice(0, 600), { batch: 100 });
    await sleep(1500); // JetStream forgot the Nats-Msg-Ids
    // a runner whose cursor was lost starts again from the beginning
    await deliverAll(createDestination, out, sent, { batch: 100 });
    assertExactlyOnce(sent, await readJetStream(server.url, "LOGWARD"));
  });

  test("nats-server down: deliver() fails with a sentence naming the output and the server", async () => {
    const port = await freePort();
    const d = createDestination(natsOutput(`nats://127.0.0.1:${port}`), {
      store: "/nonexistent",
      stateDir: "/nonexistent",
      log: () => {},
      acknowledged: () => {},
      signal: new AbortController().signal,
    });
    await assert.rejects(
      d.deliver(records(1)),
      new RegExp(`^Error: output bus: nats://127.0.0.1:${port}: cannot connect`),
    );
    await d.close();
  });
});

describe("nats output: [[output]] keys", () => {
  function load(lines: string[]) {
    const dir = tempDir();
    const file = join(dir, "logward.toml");
    writeFileSync(file, `[[output]]\nname = "bus"\ntype = "nats"\n${lines.join("\n")}\n`);
    return loadConfig(dir, file);
  }

  test("defaults: the local server, stream LOGWARD, a 2 minute duplicate window", () => {
    assert.deepEqual(
      { ...load([]).outputs[0]!.options },
      {
        servers: ["nats://127.0.0.1:4222"],
        jetstream_stream: "LOGWARD",
        duplicate_window_ms: 120_000,
        tls_ca: null,
        tls_cert: null,
        tls_key: null,
        nats_creds: null,
        nats_user: null,
        nats_password: null,
        nats_token: null,
      },
    );
    assert.deepEqual(load(['servers = ["nats://a:4222", "tls://b:4222"]']).outputs[0]!.options.servers, [
      "nats://a:4222",
      "tls://b:4222",
    ]);
  });

  test("a bad URL, stream name or window is refused", () => {
    assert.throws(() => load(['servers = "http://x"']), /output bus: servers must be a NATS URL/);
    assert.throws(
      () => load(['jetstream_stream = "a.b"']),
      /jetstream_stream must be a JetStream stream name/,
    );
    assert.throws(() => load(['duplicate_window = "soon"']), /duplicate_window must be a duration/);
    assert.throws(() => load(['address = "h:1"']), /address does not apply to type = "nats"/);
  });
});

describe("nats output: the Destination contract, into nats-server -js", { timeout: 60_000 }, () => {
  let server: NatsServer | null = null;
  destinationSuite("nats", {
    factory: createDestination,
    async start() {
      server = natsServer(tempDir(), await freePort());
      await server.start();
      return { config: natsOutput(server.url) };
    },
    async received() {
      return (await readJetStream(server!.url, "LOGWARD")).map((g) => `${g.origin}/${g.stream} ${g.seq}`);
    },
    async stop() {
      await server?.stop();
    },
  });
});
