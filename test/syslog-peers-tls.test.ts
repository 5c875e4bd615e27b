// Real syslog daemons sending to a `[[listen]]` TLS listener with mutual authentication, each
// as an unprivileged child with its own configuration, pid file and work dir in the test's
// temp dir: rsyslog `omfwd` with the gtls driver and octet counting, rsyslog `omfwd` with the
// ossl driver and LF framing (traditional), and syslog-ng's RFC 5425 `syslog()` destination.
// Each reads N lines from a file (imfile, file()) and forwards them; every message must arrive
// exactly once, under its client certificate's CN. syslog-ng comes from the private root that
// scripts/install-syslog-peers.sh unpacks (Debian's syslog-ng would remove rsyslog).

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { serve } from "./helpers/daemon.ts";
import { freePort, makePki, storedMessages } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const N = 1000;
const SYSLOG_NG_ROOT = process.env.LOGWARD_SYSLOG_NG_ROOT ?? "/var/cache/logward-test/syslog-ng";
const SYSLOG_NG = join(SYSLOG_NG_ROOT, "usr/sbin/syslog-ng");

/** Starts a peer daemon; its output is kept for the failure message. */
function daemon(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { proc: ChildProcess; out: () => string } {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return { proc, out: () => out };
}

async function stopPeer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  await gone;
}

/** rsyslogd forwarding `input` over TLS with `driver` and `framing` (its config in `dir`). */
function rsyslogConf(
  dir: string,
  input: string,
  port: number,
  ca: string,
  c: { cert: string; key: string },
  driver: string,
  framing: string,
): string {
  mkdirSync(join(dir, "work"), { recursive: true });
  const conf = join(dir, "rsyslog.conf");
  writeFileSync(
    conf,
    `global(workDirectory="${join(dir, "work")}"
       DefaultNetstreamDriverCAFile="${ca}"
       DefaultNetstreamDriverCertFile="${c.cert}"
       DefaultNetstreamDriverKeyFile="${c.key}")
module(load="imfile")
input(type="imfile" file="${input}" tag="gen:")
action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp"
       StreamDriver="${driver}" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
       StreamDriverPermittedPeers="localhost" TCP_Framing="${framing}"
       template="RSYSLOG_SyslogProtocol23Format")
`,
  );
  return conf;
}

describe("rsyslog and syslog-ng over TLS with mutual authentication", { timeout: 60_000 }, () => {
  test(`rsyslog (gtls, octet-counted; ossl, LF) and syslog-ng (RFC 5425): ${N} messages each, exactly once, origin the CN`, async () => {
    const dir = tempDir();
    const store = tempDir();
    const pki = await makePki(dir);
    const port = await freePort();
    const input = join(dir, "in.log");
    writeFileSync(input, Array.from({ length: N }, (_, i) => `message ${i} of the peer test\n`).join(""));
    const d = await serve(
      store,
      [
        "[[listen]]",
        'protocol = "syslog"',
        'transport = "tls"',
        `address = "127.0.0.1:${port}"`,
        `tls_cert = "${pki.serverCert}"`,
        `tls_key = "${pki.serverKey}"`,
        `tls_ca = "${pki.ca}"`,
        'origin = "cert"',
      ].join("\n"),
    );
    const peers: { name: string; proc: ChildProcess; out: () => string }[] = [];
    try {
      for (const [name, driver, framing] of [
        ["rsyslog-gtls", "gtls", "octet-counted"],
        ["rsyslog-ossl", "ossl", "traditional"],
      ] as const) {
        const w = join(dir, name);
        const conf = rsyslogConf(w, input, port, pki.ca, await pki.clientCert(name), driver, framing);
        peers.push({ name, ...daemon("/usr/sbin/rsyslogd", ["-n", "-f", conf, "-i", join(w, "pid")]) });
      }
      assert.ok(existsSync(SYSLOG_NG), `${SYSLOG_NG} is missing: run scripts/install-syslog-peers.sh`);
      const w = join(dir, "syslog-ng");
      mkdirSync(w);
      const c = await pki.clientCert("syslog-ng");
      writeFileSync(
        join(w, "syslog-ng.conf"),
        `@version: 3.38
options { stats-freq(0); };
source s_in { file("${input}" follow-freq(0.1) flags(no-parse)); };
destination d_logward {
  syslog("127.0.0.1" port(${port}) transport("tls")
    tls(ca-file("${pki.ca}") cert-file("${c.cert}") key-file("${c.key}") peer-verify(required-trusted)));
};
log { source(s_in); destination(d_logward); };
`,
      );
      peers.push({
        name: "syslog-ng",
        ...daemon(
          SYSLOG_NG,
          [
            "-F",
            "-e",
            "--no-caps",
            `--module-path=${SYSLOG_NG_ROOT}/usr/lib/syslog-ng/3.38`,
            "-f",
            join(w, "syslog-ng.conf"),
            "-R",
            join(w, "persist"),
            "-p",
            join(w, "pid"),
            "-c",
            join(w, "ctl"),
          ],
          {
            LD_LIBRARY_PATH: `${SYSLOG_NG_ROOT}/usr/lib/syslog-ng:${SYSLOG_NG_ROOT}/usr/lib/x86_64-linux-gnu`,
          },
        ),
      });
      for (const p of peers) {
        await until(
          `${N} messages from ${p.name}`,
          async () => (await storedMessages(store, p.name)).length >= N,
          { ms: 40_000, everyMs: 200 },
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${p.name}: ${p.out()}\nserve: ${d.out()}`);
        });
      }
      await Promise.all(peers.map((p) => stopPeer(p.proc)));
      for (const p of peers) {
        const got = await storedMessages(store, p.name);
        const seen = got.map((m) => Number(/message (\d+) of the peer test\n?$/.exec(m)?.[1] ?? -1));
        assert.deepEqual(
          seen,
          Array.from({ length: N }, (_, i) => i),
          `${p.name}: each message once, in order`,
        );
        // RFC 5424 as the daemon framed it: the record is the message as received
        assert.match(got[0]!, /^<\d+>1 \S+ \S+ \S+ /);
      }
      // the HOSTNAME the daemons claim is data, never an origin
      assert.deepEqual(await storedMessages(store, hostname()), []);
    } finally {
      await Promise.all(peers.map((p) => stopPeer(p.proc)));
      assert.equal(await d.stop(), 0);
    }
  });
});
