// The syslog and nats outputs end to end through `logward serve`: records ingested as qrexec
// sends them are read from the store by the output runner and reach a real rsyslogd (TLS) and a
// real nats-server -js, every one (JetStream: exactly once, the collector's records included).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ingest, serve } from "./helpers/daemon.ts";
import { natsServer, readJetStream } from "./helpers/nats.ts";
import { freePort, makePki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const N = 2000;
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1} via serve\n`).join("");

test(`serve: ${N} records from the store to rsyslogd over TLS and to JetStream`, {
  timeout: 120_000,
}, async (t) => {
  const dir = tempDir();
  const store = join(dir, "store");
  const nats = natsServer(dir, await freePort());
  await nats.start();
  t.after(() => nats.stop());
  const pki = await makePki(dir);
  const client = await pki.clientCert("logward-out");
  const port = await freePort();
  mkdirSync(join(dir, "rs", "work"), { recursive: true });
  const received = join(dir, "rs", "received.log");
  writeFileSync(
    join(dir, "rs", "rsyslog.conf"),
    `global(workDirectory="${join(dir, "rs", "work")}" DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="${pki.ca}" DefaultNetstreamDriverCertFile="${pki.serverCert}"
       DefaultNetstreamDriverKeyFile="${pki.serverKey}")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" port="${port}" address="127.0.0.1")
template(name="fields" type="string" string="%hostname%|%app-name%|%structured-data%|%msg%\\n")
action(type="omfile" file="${received}" template="fields")
`,
  );
  const rs = spawn(
    "/usr/sbin/rsyslogd",
    ["-n", "-f", join(dir, "rs", "rsyslog.conf"), "-i", join(dir, "rs", "pid")],
    {
      stdio: "ignore",
    },
  );
  t.after(() => rs.kill("SIGKILL"));
  const d = await serve(
    store,
    [
      "[[output]]",
      'name = "siem"',
      'type = "syslog"',
      `address = "127.0.0.1:${port}"`,
      'server_name = "localhost"',
      `tls_ca = "${pki.ca}"`,
      `tls_cert = "${client.cert}"`,
      `tls_key = "${client.key}"`,
      'match = "vm1"',
      "",
      "[[output]]",
      'name = "bus"',
      'type = "nats"',
      `servers = "${nats.url}"`,
      'match = "vm1"',
    ].join("\n"),
  );
  try {
    const sent = await ingest(store, "lines", lines(N), {
      QREXEC_REMOTE_DOMAIN: "vm1",
      QREXEC_SERVICE_ARGUMENT: "app",
    });
    assert.equal(sent.code, 0, sent.stderr);
    const atRsyslog = () =>
      existsSync(received)
        ? readFileSync(received, "utf8")
            .split("\n")
            .filter((l) => l.startsWith("vm1|app|"))
        : [];
    await until(
      `${N} records at rsyslogd`,
      () => atRsyslog().filter((l) => / via serve$/.test(l)).length >= N,
      {
        ms: 60_000,
        everyMs: 200,
      },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${atRsyslog().length}\nserve: ${d.out()}`);
    });
    const msgs = new Set(atRsyslog().map((l) => l.split("|")[3]));
    for (let i = 1; i <= N; i++) assert.ok(msgs.has(`line ${i} via serve`), `line ${i} at rsyslogd`);
    // JetStream: the stream's records (the collector's !open and !close too), each once
    await until(
      "every record in JetStream",
      async () => {
        const got = await readJetStream(nats.url, "LOGWARD").catch(() => []);
        return got.filter((g) => g.kind === ".").length >= N && got.some((g) => g.kind === "!close");
      },
      { ms: 60_000, everyMs: 250 },
    );
    const got = await readJetStream(nats.url, "LOGWARD");
    const seqs = got.map((g) => g.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      "vm1/app seqs 1..n, each once, in order",
    );
    assert.equal(got.find((g) => g.seq === 2)!.data.toString(), "line 1 via serve");
    assert.ok(got.every((g) => g.subject === "logward.vm1.app"));
  } finally {
    assert.equal(await d.stop(), 0);
  }
});
