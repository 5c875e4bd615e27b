// `[[listen]] transport = "udp"`: util-linux `logger --udp` as the real peer, one datagram one
// record under the peer address's origin name; and what UDP cannot push back against (here
// a quota with on_quota = "refuse") dropped but counted: a `!gap dropped=N` in the stream and
// an `event=udp-dropped` in `_logward/events`, never silent.

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { describe, test } from "node:test";
import type { ListenConfig } from "../src/config/types.ts";
import { serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import {
  freePort,
  refusingUdpSensor,
  runPeer,
  sendDatagrams,
  storedMessages,
} from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

describe("syslog over UDP", { timeout: 60_000 }, () => {
  test("logger --udp, RFC 5424 and 3164: one datagram one record, origin from the address", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      `[[listen]]\ntransport = "udp"\naddress = "127.0.0.1:${port}"\norigin = "address"\n`,
    );
    try {
      const logger = (...args: string[]) =>
        runPeer("logger", ["--udp", "--server", "127.0.0.1", "--port", String(port), "--tag", "u", ...args]);
      await logger("--rfc5424", "first over udp");
      await logger("--rfc3164", "second over udp");
      await until(
        "two datagrams stored",
        async () => (await storedMessages(store, "127.0.0.1")).length === 2,
      );
      const got = await storedMessages(store, "127.0.0.1");
      assert.match(got[0]!, /^<13>1 \S+ \S+ u - - \[timeQuality[^\]]*\] first over udp$/);
      assert.match(got[1]!, /^<13>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ u(\[\d+\])?: second over udp$/);
    } finally {
      assert.equal(await d.stop(), 0);
    }
    const recs = await readAll(store, "127.0.0.1", "syslog");
    assert.match(recs[0]!.payload.toString(), /transport=udp format=syslog/);
    assert.equal(recs.at(-1)!.kind, "!close");
    assert.match(recs.at(-1)!.payload.toString(), /records=2 reason=shutdown/);
  });

  test("a datagram over max_record is cut there, with a !trunc marker saying what was received", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      `[collector]\nmax_record = "1KiB"\n[[listen]]\ntransport = "udp"\naddress = "127.0.0.1:${port}"\norigin = "sensor"\n`,
    );
    try {
      const sock = createSocket("udp4");
      await new Promise<void>((r) =>
        sock.send(`<13>1 - - s - - - ${"y".repeat(5000)}`, port, "127.0.0.1", () => r()),
      );
      sock.close();
      await until("the datagram stored", async () =>
        (await readAll(store, "sensor", "syslog")).some((r) => r.kind === "!trunc"),
      );
    } finally {
      assert.equal(await d.stop(), 0);
    }
    const recs = await readAll(store, "sensor", "syslog");
    const kept = recs.filter((r) => r.kind === ".");
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.payload.length, 1024);
    assert.match(recs.find((r) => r.kind === "!trunc")!.payload.toString(), /kept=1024 received=5018 /);
  });

  test("an origin over its refusing quota: datagrams dropped, counted in the stream and the events", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(store, refusingUdpSensor(port));
    const sent = 3000;
    try {
      await sendDatagrams(port, sent, 50); // pauses: no kernel drops, the collector's only
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      assert.equal(await d.stop(), 0);
    }
    const recs = await readAll(store, "sensor", "syslog");
    const stored = recs.filter((r) => r.kind === ".").length;
    const gaps = recs
      .filter((r) => r.kind === "!gap")
      .map((r) => Number(/dropped=(\d+)/.exec(r.payload.toString())![1]));
    const dropped = gaps.reduce((a, b) => a + b, 0);
    assert.ok(stored < sent, `some were refused (${stored} stored)`);
    assert.ok(dropped > 0, "the drops are in the stream");
    assert.ok(recs.some((r) => r.kind === "!gap" && /reason=blocked/.test(r.payload.toString())));
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());
    const counts = events
      .filter((e) => e.startsWith("event=udp-dropped"))
      .map((e) => [Number(/ dropped=(\d+)/.exec(e)![1]), Number(/ kernel=(\d+)/.exec(e)![1])] as const);
    assert.ok(counts.length > 0, events.join("\n"));
    const byCollector = counts.reduce((a, [c]) => a + c, 0);
    const byKernel = counts.reduce((a, [, k]) => a + k, 0);
    // the events and the stream's gaps count the same drops; every datagram sent is stored or
    // counted as dropped (by the collector or by the kernel)
    assert.equal(byCollector, dropped);
    assert.equal(stored + byCollector + byKernel, sent);
  });
});

/** A [[listen]] UDP table on 127.0.0.1:port, as the config loader would give it. */
function udpListen(port: number, origin: string): ListenConfig {
  return {
    index: 0,
    protocol: "syslog",
    transport: "udp",
    address: `127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    tlsCert: null,
    tlsKey: null,
    tlsCa: null,
    origin,
    stream: "syslog",
    maxConnections: 1,
    handshakeTimeoutMs: 1000,
    mode: 0o666,
  };
}

/** A policy that lets every origin write at any rate. */
const OPEN_POLICY = {
  noteAppend: () => {},
  takeRate: () => 0,
  blocked: () => false,
  whenChanged: async () => {},
};

test("the kernel's drop count of the listener's own socket is found in /proc/net/udp", async () => {
  const { DatagramListener } = await import("../src/collector/datagram-listener.ts");
  const port = await freePort();
  const l = await DatagramListener.start(udpListen(port, "x"), {
    openStream: () => Promise.reject(new Error("not in this test")),
    policy: OPEN_POLICY,
    maxRecordBytes: 65536,
    event: () => {},
    repeated: () => {},
  });
  try {
    // a number (0 on a quiet socket), not null: the socket's inode was found in the table
    assert.equal((l as unknown as { readKernelDrops(): number | null }).readKernelDrops(), 0);
  } finally {
    await l.close();
  }
});

test("forged source addresses cannot open streams without bound: past MAX_FLOWS origins, dropped and counted", async () => {
  // with origin = "address" every UDP source names an origin, and a source address is easy to
  // forge: a listener keeps at most MAX_FLOWS origins; datagrams from more are counted drops
  const { DatagramListener, MAX_FLOWS } = await import("../src/collector/datagram-listener.ts");
  const port = await freePort();
  let opened = 0;
  const events: Record<string, string | number>[] = [];
  const l = await DatagramListener.start(udpListen(port, "address"), {
    openStream: () => {
      opened++;
      return new Promise(() => {}); // still opening: the flow is held
    },
    policy: OPEN_POLICY,
    maxRecordBytes: 65536,
    repeated: () => {},
    event: (name, fields) => {
      if (name === "udp-dropped") events.push(fields);
    },
  });
  const extra = 40;
  try {
    for (let i = 0; i < MAX_FLOWS + extra; i++) {
      const from = `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;
      const s = createSocket("udp4");
      await new Promise<void>((r) => s.bind(0, from, () => r()));
      await new Promise<void>((r, j) =>
        s.send(`<13>1 - - app - - - from ${from}`, port, "127.0.0.1", (e) => (e ? j(e) : r())),
      );
      s.close();
    }
    await until(
      "every datagram read",
      async () => opened === MAX_FLOWS && (l as unknown as { droppedHere: number }).droppedHere === extra,
    );
  } finally {
    await l.close();
  }
  assert.equal(opened, MAX_FLOWS);
  assert.equal(events.at(-1)?.dropped, extra);
});

test("an origin whose stream is refused, datagram after datagram: one udp-refused event a minute, the rest counted", async () => {
  const { DatagramListener } = await import("../src/collector/datagram-listener.ts");
  const { RepeatedEvents } = await import("../src/collector/repeats.ts");
  const { LogwardError } = await import("../src/errors.ts");
  const port = await freePort();
  const written: [string, Record<string, string | number>][] = [];
  const repeats = new RepeatedEvents(
    (name, fields) => written.push([name, fields]),
    () => {},
  );
  let tried = 0;
  const l = await DatagramListener.start(udpListen(port, "sensor"), {
    openStream: async () => {
      tried++;
      throw new LogwardError("LW_STREAM_LIMIT", "sensor has too many streams.");
    },
    policy: OPEN_POLICY,
    maxRecordBytes: 65536,
    event: (name, fields) => written.push([name, fields]),
    repeated: (name, origin, kind, fields) => void repeats.note(name, origin, kind, fields),
  });
  const sock = createSocket("udp4");
  try {
    for (let i = 0; i < 200; i++) {
      await new Promise<void>((r) => sock.send(`<13>1 - - s - - - ${i}`, port, "127.0.0.1", () => r()));
      await new Promise((r) => setImmediate(r));
    }
    await until("the datagrams read", async () => tried >= 100);
  } finally {
    sock.close();
    await l.close();
  }
  // a refused origin cannot fill _logward/events: one record now, one sum when the minute ends
  assert.equal(written.filter(([n]) => n === "udp-refused").length, 1);
  repeats.flush(true);
  const refused = written.filter(([n]) => n === "udp-refused");
  assert.equal(refused.length, 2);
  assert.equal(refused[1]![1].repeated, tried - 1);
});
