// The `syslog` output (src/output/syslog.ts): the RFC 5424 bytes of a record, its [[output]]
// keys, and delivery into a real rsyslogd listening with imtcp over TLS (the gtls driver,
// client certificates required), run unprivileged from the test's temp dir with certificates
// made by openssl (helpers/syslog-peers.ts). rsyslogd killed with kill -9 mid-stream and
// started again: every record arrives at least once, and the duplicates are counted.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../src/config/load.ts";
import type { OutputConfig } from "../src/config/types.ts";
import type { OutRecord } from "../src/output/destination.ts";
import { createDestination } from "../src/output/syslog.ts";
import { leadingPri, syslogFrame } from "../src/output/syslog-format.ts";
import { escapePayload } from "../src/store/escape.ts";
import { formatTime } from "../src/store/record.ts";
import { destinationSuite } from "./helpers/destination-suite.ts";
import { deliverAll, outRecord } from "./helpers/out-records.ts";
import { freePort, makePki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

describe("syslog output: the bytes of one record", () => {
  test("octet-counted RFC 5424: origin as HOSTNAME, receive time as TIMESTAMP, raw bytes as MSG", () => {
    const raw = Buffer.from([0x68, 0x69, 0x09, 0x5c, 0xff, 0x0a, 0x21]); // "hi\t\\" 0xff LF "!"
    const rec = outRecord("vm1", "syslog", 7, raw, "2026-11-24T09:16:19.123456Z");
    assert.equal(rec.payload.toString("latin1"), "hi\\t\\\\\\xff\\n!"); // as stored: escaped
    const frame = syslogFrame(rec);
    const head = '<13>1 2026-11-24T09:16:19.123456Z vm1 syslog - - [logward@32473 stream="syslog" seq="7"] ';
    const msg = Buffer.concat([Buffer.from(head, "latin1"), raw]);
    assert.deepEqual(frame, Buffer.concat([Buffer.from(`${msg.length} `), msg]));
  });

  test("the sender's own <PRI> is kept; the collector's records are syslog.info with their kind as MSGID", () => {
    const sent = syslogFrame(outRecord("vm1", "s", 1, Buffer.from("<34>1 - host app - - - text")));
    assert.match(sent.toString("latin1"), /^\d+ <34>1 \S+ vm1 s - - \[[^\]]+\] <34>1 - host app - - - text$/);
    const own = syslogFrame(outRecord("vm1", "s", 2, Buffer.from("reason=start"), undefined, "!open"));
    assert.match(own.toString("latin1"), /^\d+ <46>1 \S+ vm1 s - open \[[^\]]+\] reason=start$/);
    assert.equal(leadingPri(Buffer.from("<191>x")), 191);
    for (const bad of ["<192>x", "<01>x", "<>x", "<13", "13>", "<1a>"])
      assert.equal(leadingPri(Buffer.from(bad)), -1);
  });

  test("a stream name longer than APP-NAME's 48 characters is cut there and whole in the SD", () => {
    const long = "s".repeat(60);
    const text = syslogFrame(outRecord("vm1", long, 1, Buffer.from("x"))).toString("latin1");
    assert.ok(text.includes(` vm1 ${"s".repeat(48)} - - [logward@32473 stream="${long}" seq="1"] x`));
  });
});

describe("syslog output: [[output]] keys", () => {
  function load(lines: string[]) {
    const dir = tempDir();
    const file = join(dir, "logward.toml");
    writeFileSync(file, `[[output]]\nname = "siem"\ntype = "syslog"\n${lines.join("\n")}\n`);
    return loadConfig(dir, file);
  }

  test("address, TLS files and server_name are read; defaults are null", () => {
    const cfg = load(['address = "siem.example:6514"', 'tls_ca = "/etc/ca.pem"']);
    const o = cfg.outputs[0]!;
    assert.equal(o.type, "syslog");
    assert.deepEqual(
      { ...o.options },
      {
        address: "siem.example:6514",
        host: "siem.example",
        port: 6514,
        server_name: null,
        tls_ca: "/etc/ca.pem",
        tls_cert: null,
        tls_key: null,
      },
    );
  });

  test("a missing address, a relative path and a certificate without its key are refused", () => {
    assert.throws(() => load([]), /output siem: address must be host:port/);
    assert.throws(() => load(['address = "h:1"', 'tls_ca = "ca.pem"']), /tls_ca must be an absolute path/);
    assert.throws(() => load(['address = "h:1"', 'tls_cert = "/c.pem"']), /tls_key must be set together/);
    assert.throws(
      () => load(['address = "h:1"', 'command = "x"']),
      /command does not apply to type = "syslog"/,
    );
  });
});

/** rsyslogd receiving RFC 5425 with imtcp and gtls, client certificates required, to a file. */
function rsyslogReceiver(
  dir: string,
  port: number,
  pki: { ca: string; serverCert: string; serverKey: string },
) {
  mkdirSync(join(dir, "work"), { recursive: true });
  const out = join(dir, "received.log");
  const conf = join(dir, "rsyslog.conf");
  writeFileSync(
    conf,
    `global(workDirectory="${join(dir, "work")}"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="${pki.ca}"
       DefaultNetstreamDriverCertFile="${pki.serverCert}"
       DefaultNetstreamDriverKeyFile="${pki.serverKey}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" port="${port}" address="127.0.0.1")
template(name="fields" type="string"
         string="%hostname%|%app-name%|%msgid%|%timereported:::date-rfc3339%|%structured-data%|%msg%\\n")
action(type="omfile" file="${out}" template="fields")
`,
  );
  let proc: ChildProcess | null = null;
  let log = "";
  const start = () => {
    proc = spawn("/usr/sbin/rsyslogd", ["-n", "-f", conf, "-i", join(dir, "pid")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.on("data", (d: Buffer) => {
      log += d.toString();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
    });
  };
  const stop = async (signal: NodeJS.Signals) => {
    const p = proc as ChildProcess | null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await gone;
  };
  const lines = () => (existsSync(out) ? readFileSync(out, "utf8").split("\n").slice(0, -1) : []);
  return { start, stop, lines, log: () => log };
}

/** The seq of each received line (from the SD), in arrival order. */
function receivedSeqs(lines: readonly string[]): number[] {
  return lines.map((l) => Number(/seq="(\d+)"/.exec(l)?.[1] ?? -1));
}

function syslogOutput(port: number, files: { ca: string; cert: string; key: string }): OutputConfig {
  return {
    name: "siem",
    type: "syslog",
    match: "*",
    start: "oldest",
    command: null,
    file: "test",
    options: {
      address: `127.0.0.1:${port}`,
      host: "127.0.0.1",
      port,
      server_name: "localhost",
      tls_ca: files.ca,
      tls_cert: files.cert,
      tls_key: files.key,
    },
  };
}

describe("syslog output into rsyslogd over TLS", { timeout: 120_000 }, () => {
  test("every record arrives with its origin, time and bytes; kill -9 and restart: at least once", async (t) => {
    const dir = tempDir();
    const pki = await makePki(dir);
    const client = await pki.clientCert("logward-out");
    const port = await freePort();
    const peer = rsyslogReceiver(dir, port, pki);
    const N = 20_000;
    const t0 = Date.parse("2026-11-24T09:16:19Z") * 1000;
    const records: OutRecord[] = Array.from({ length: N }, (_, i) =>
      outRecord(
        i % 2 ? "vm1" : "vm2.work",
        "syslog",
        i + 1,
        Buffer.from(`record ${i + 1} of the syslog output test`),
        formatTime(t0 + i),
      ),
    );
    peer.start();
    t.after(() => peer.stop("SIGKILL"));
    const logs: string[] = [];
    let killed = false;
    const run = deliverAll(createDestination, syslogOutput(port, { ca: pki.ca, ...client }), records, {
      batch: 250,
      log: (m) => logs.push(m),
      // a kill -9 of the receiver a third of the way in, and a restart 1 s later
      onDelivered: async (count) => {
        if (killed || count < N / 3) return;
        killed = true;
        await peer.stop("SIGKILL");
        setTimeout(() => peer.start(), 1000);
      },
    });
    const result = await run;
    await until(`${N} distinct records at rsyslogd`, () => new Set(receivedSeqs(peer.lines())).size >= N, {
      ms: 30_000,
      everyMs: 100,
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${new Set(receivedSeqs(peer.lines())).size}\nrsyslogd: ${peer.log()}`);
    });
    await sleep(300);
    const lines = peer.lines();
    const seqs = receivedSeqs(lines);
    const distinct = new Set(seqs);
    for (let s = 1; s <= N; s++) assert.ok(distinct.has(s), `record ${s} arrived`);
    assert.ok(result.failures >= 1, "the kill was seen as a failed delivery");
    const duplicates = seqs.length - N;
    t.diagnostic(
      `${N} records, ${seqs.length} received, ${duplicates} duplicates, ${result.failures} failed deliveries`,
    );
    assert.ok(
      logs.some((l) => /sending the last \d+ records again/.test(l)),
      "the tail was sent again",
    );
    // the fields as rsyslogd parsed them
    const first = lines.find((l) => l.includes('seq="2"'))!;
    const [host, app, msgid, ts, sd, msg] = first.split("|");
    assert.equal(host, "vm1");
    assert.equal(app, "syslog");
    assert.equal(msgid, "-");
    assert.equal(new Date(ts!).getTime(), Math.floor((t0 + 1) / 1000));
    assert.equal(sd, '[logward@32473 stream="syslog" seq="2"]');
    assert.equal(msg, "record 2 of the syslog output test");
    assert.ok(lines.some((l) => l.startsWith("vm2.work|syslog|")));
  });
});

test("syslog output: an escaped payload arrives as the sender's bytes at rsyslogd", {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir();
  const pki = await makePki(dir);
  const client = await pki.clientCert("logward-out");
  const port = await freePort();
  const peer = rsyslogReceiver(dir, port, pki);
  peer.start();
  t.after(() => peer.stop("SIGTERM"));
  // a tab (rsyslog writes control bytes as #011), a backslash, UTF-8 text
  const raw = Buffer.from("tab\there back\\slash ünïcode", "utf8");
  const rec = outRecord("vm1", "app", 1, raw);
  assert.ok(escapePayload(raw).includes(0x5c));
  await deliverAll(createDestination, syslogOutput(port, { ca: pki.ca, ...client }), [rec], { batch: 1 });
  await until("the record at rsyslogd", () => peer.lines().length >= 1, { ms: 20_000, everyMs: 100 });
  assert.equal(peer.lines()[0]!.split("|")[5], "tab#011here back\\slash ünïcode");
});

// The shared Destination contract. TLS syslog has no acks, so received() waits for rsyslogd's
// file to stop growing (deliver() resolved when the bytes were written, not when rsyslogd wrote them).
describe("syslog output: the Destination contract, into rsyslogd", { timeout: 120_000 }, () => {
  let peer: ReturnType<typeof rsyslogReceiver> | null = null;
  destinationSuite("syslog", {
    factory: createDestination,
    async start() {
      const dir = tempDir();
      const pki = await makePki(dir);
      const client = await pki.clientCert("logward-out");
      const port = await freePort();
      peer = rsyslogReceiver(dir, port, pki);
      peer.start();
      await until("rsyslogd listening", () => portOpen(port), {
        ms: 10_000,
        everyMs: 50,
      });
      return { config: syslogOutput(port, { ca: pki.ca, ...client }) };
    },
    async received() {
      let last = -1;
      for (let i = 0; i < 100; i++) {
        const n = peer!.lines().length;
        if (n === last) break;
        last = n;
        await sleep(150);
      }
      return peer!
        .lines()
        .map((l) => `${l.split("|")[0]}/${/stream="([^"]+)"/.exec(l)?.[1]} ${/seq="(\d+)"/.exec(l)?.[1]}`);
    },
    async stop() {
      await peer?.stop("SIGTERM");
    },
  });
});

async function portOpen(port: number): Promise<boolean> {
  const { createConnection } = await import("node:net");
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}
