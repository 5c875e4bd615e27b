// RELP with the real peer: rsyslogd (Debian's rsyslog-relp, librelp) forwarding with `omrelp`
// to `logward serve` with a `[[listen]] protocol = "relp"`. Messages go into rsyslog through
// its own imtcp input on a private port; rsyslogd runs unprivileged-style with its own config,
// pid file and work directory in the test's temp dir. Every message is stored exactly once,
// also when the collector is killed with SIGKILL mid-stream and started again: omrelp resends
// what it had no answer for, and the collector recognises what it had already stored.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type Daemon, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, makePki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const RSYSLOGD = "/usr/sbin/rsyslogd";
const OMRELP = "/usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so";
const ORIGIN = "sender1";

const haveRsyslog = () =>
  existsSync(RSYSLOGD) && (existsSync(OMRELP) || existsSync("/usr/lib/aarch64-linux-gnu/rsyslog/omrelp.so"));

function listenConfig(port: number, extra = ""): string {
  return `[[listen]]\nprotocol = "relp"\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "${ORIGIN}"\n${extra}`;
}

/** rsyslogd with imtcp on `inPort` and one omrelp action to logward on `relpPort`. */
async function startRsyslog(dir: string, inPort: number, relpPort: number, tls = ""): Promise<ChildProcess> {
  const work = join(dir, "rsyslog");
  mkdirSync(work, { recursive: true });
  const conf = join(work, "rsyslog.conf");
  writeFileSync(
    conf,
    `global(workDirectory="${work}" net.enableDNS="off")
module(load="imtcp")
module(load="omrelp")
input(type="imtcp" address="127.0.0.1" port="${inPort}" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omrelp" target="127.0.0.1" port="${relpPort}" queue.type="LinkedList"
         action.resumeRetryCount="-1" action.resumeInterval="1" ${tls})
}
`,
  );
  const proc = spawn(RSYSLOGD, ["-n", "-f", conf, "-i", join(work, "pid")], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: work,
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await until(
    `rsyslogd listening on ${inPort}`,
    () =>
      new Promise<boolean>((resolve) => {
        if (proc.exitCode !== null) throw new Error(`rsyslogd exited: ${out}`);
        const s = connect(inPort, "127.0.0.1");
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      }),
    { ms: 15_000, everyMs: 50 },
  );
  return proc;
}

const line = (n: number) => `<13>Jan  1 00:00:00 gen app: msg-${String(n).padStart(6, "0")} payload\n`;

/** Sends messages `from`..`to` into rsyslog's imtcp, `batch` at a time with a pause. */
async function generate(port: number, from: number, to: number, batch = 200, pauseMs = 2): Promise<void> {
  const s = connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => s.once("connect", r).once("error", j));
  for (let n = from; n <= to; n += batch) {
    let chunk = "";
    for (let k = n; k < Math.min(n + batch, to + 1); k++) chunk += line(k);
    if (!s.write(chunk)) await new Promise((r) => s.once("drain", r));
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
  await new Promise<void>((r) => s.end(r));
}

/** How many times each message id is stored. */
async function counts(store: string): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  let recs: Awaited<ReturnType<typeof readAll>> = [];
  try {
    recs = await readAll(store, ORIGIN, "syslog");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  for (const r of recs) {
    if (r.kind !== ".") continue;
    const m = /msg-(\d{6})/.exec(r.payload.toString("latin1"));
    if (m) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  }
  return seen;
}

function assertExactlyOnce(seen: Map<number, number>, n: number): void {
  const missing: number[] = [];
  const twice: number[] = [];
  for (let k = 1; k <= n; k++) {
    const c = seen.get(k) ?? 0;
    if (c === 0) missing.push(k);
    if (c > 1) twice.push(k);
  }
  assert.deepEqual(
    { missing: missing.slice(0, 20), stored_twice: twice.slice(0, 20), total: seen.size },
    { missing: [], stored_twice: [], total: n },
  );
}

/**
 * A TCP relay between rsyslog and logward that can swallow what logward answers and then cut
 * the connection: the records are durable, but omrelp never hears so and resends them.
 */
class LossyRelay {
  readonly server: Server;
  port = 0;
  swallow = false;
  swallowed = 0;
  private readonly pairs = new Set<[Socket, Socket]>();

  constructor(target: number) {
    this.server = createServer((client) => {
      const upstream = connect(target, "127.0.0.1");
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on("data", (b: Buffer) => upstream.write(b));
      upstream.on("data", (b: Buffer) => {
        if (this.swallow) this.swallowed += b.length;
        else client.write(b);
      });
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const s of pair) {
        s.on("close", end);
        s.on("error", end);
      }
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Cuts every connection (both sides), and lets answers through again. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.swallow = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const done = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  return done;
}

describe("RELP from rsyslog omrelp", { timeout: 60_000 }, () => {
  test("N messages, each stored exactly once, answered only when durable", async (t) => {
    if (!haveRsyslog()) return t.skip("needs rsyslogd and omrelp (scripts/install-syslog-peers.sh)");
    const dir = tempDir("logward-relp-rsyslog-");
    const store = join(dir, "store");
    const relpPort = await freePort();
    const inPort = await freePort();
    const d = await serve(store, listenConfig(relpPort));
    const rs = await startRsyslog(dir, inPort, relpPort);
    try {
      const N = 5000;
      await generate(inPort, 1, N);
      await until("every message stored", async () => (await counts(store)).size >= N, {
        ms: 30_000,
        everyMs: 200,
      });
      assertExactlyOnce(await counts(store), N);
      const recs = await readAll(store, ORIGIN, "syslog");
      assert.match(recs.find((r) => r.kind === "!open")!.payload.toString(), /transport=tcp format=syslog/);
      assert.ok(recs.filter((r) => r.kind === ".").every((r) => r.ref?.startsWith("relp-")));
    } finally {
      await stop(rs);
      await d.stop();
    }
  });

  test("kill -9 of the collector mid-stream: rsyslog resends, every message stored exactly once", async (t) => {
    if (!haveRsyslog()) return t.skip("needs rsyslogd and omrelp (scripts/install-syslog-peers.sh)");
    const dir = tempDir("logward-relp-kill-");
    const store = join(dir, "store");
    const relpPort = await freePort();
    const inPort = await freePort();
    let d: Daemon = await serve(store, listenConfig(relpPort));
    const rs = await startRsyslog(dir, inPort, relpPort);
    try {
      const N = 20_000;
      const sending = generate(inPort, 1, N, 100, 5);
      await until("part of the stream stored", async () => (await counts(store)).size >= 3000, {
        ms: 30_000,
        everyMs: 20,
      });
      d.proc.kill("SIGKILL");
      await new Promise((r) => d.proc.once("exit", r));
      await new Promise((r) => setTimeout(r, 300));
      d = await serve(store, listenConfig(relpPort));
      await sending;
      await until("every message stored", async () => (await counts(store)).size >= N, {
        ms: 40_000,
        everyMs: 250,
      });
      // rsyslog may still be resending: give it a moment, then nothing may be there twice
      await new Promise((r) => setTimeout(r, 500));
      assertExactlyOnce(await counts(store), N);
      const recs = await readAll(store, ORIGIN, "syslog");
      const closes = recs.filter((r) => r.kind === "!close").map((r) => r.payload.toString());
      const opens = recs.filter((r) => r.kind === "!open");
      assert.ok(opens.length >= 2, "the killed session and the one after the restart");
      const dups = closes.reduce((n, c) => n + Number(/duplicates=(\d+)/.exec(c)?.[1] ?? 0), 0);
      t.diagnostic(`sessions ${opens.length}, resent frames recognised as stored: ${dups}`);
    } finally {
      await stop(rs);
      await d.stop();
    }
  });

  test("answers lost in flight: omrelp resends its window, nothing is stored twice", async (t) => {
    if (!haveRsyslog()) return t.skip("needs rsyslogd and omrelp (scripts/install-syslog-peers.sh)");
    const dir = tempDir("logward-relp-lost-");
    const store = join(dir, "store");
    const relpPort = await freePort();
    const inPort = await freePort();
    const d = await serve(store, listenConfig(relpPort));
    const relay = await new LossyRelay(relpPort).listen();
    const rs = await startRsyslog(dir, inPort, relay.port);
    try {
      const N = 3000;
      await generate(inPort, 1, 500);
      await until("the first messages stored", async () => (await counts(store)).size >= 500, { ms: 20_000 });
      // from now on logward stores and answers, but omrelp hears nothing: its window fills
      relay.swallow = true;
      const sending = generate(inPort, 501, N, 100, 5);
      await until("answers swallowed", () => relay.swallowed > 1000, { ms: 20_000 });
      await new Promise((r) => setTimeout(r, 300));
      relay.cut();
      await sending;
      await until("every message stored", async () => (await counts(store)).size >= N, {
        ms: 30_000,
        everyMs: 200,
      });
      await new Promise((r) => setTimeout(r, 500));
      assertExactlyOnce(await counts(store), N);
      // rsyslog stops: its session closes, and the !close says how many frames were resent
      await stop(rs);
      const closesNow = async () =>
        (await readAll(store, ORIGIN, "syslog"))
          .filter((r) => r.kind === "!close")
          .map((r) => r.payload.toString());
      await until("both sessions closed", async () => (await closesNow()).length >= 2);
      const closes = await closesNow();
      const dups = closes.reduce((n, c) => n + Number(/duplicates=(\d+)/.exec(c)?.[1] ?? 0), 0);
      t.diagnostic(`resent frames recognised as stored: ${dups}`);
      assert.ok(dups > 0, `omrelp resent what it had no answer for: ${closes.join(" | ")}`);
    } finally {
      await stop(rs);
      await relay.close();
      await d.stop();
    }
  });

  test("RELP over TLS with mutual authentication: the origin is the client certificate's CN", async (t) => {
    if (!haveRsyslog()) return t.skip("needs rsyslogd and omrelp (scripts/install-syslog-peers.sh)");
    const dir = tempDir("logward-relp-tls-");
    const store = join(dir, "store");
    const pki = await makePki(dir);
    const client = await pki.clientCert(ORIGIN);
    const relpPort = await freePort();
    const inPort = await freePort();
    const d = await serve(
      store,
      `[[listen]]\nprotocol = "relp"\ntransport = "tls"\naddress = "127.0.0.1:${relpPort}"\norigin = "cert"\n` +
        `tls_cert = "${pki.serverCert}"\ntls_key = "${pki.serverKey}"\ntls_ca = "${pki.ca}"\n`,
    );
    const rs = await startRsyslog(
      dir,
      inPort,
      relpPort,
      `tls="on" tls.caCert="${pki.ca}" tls.myCert="${client.cert}" tls.myPrivKey="${client.key}" ` +
        `tls.authMode="name" tls.permittedPeer=["localhost"]`,
    );
    try {
      const N = 2000;
      await generate(inPort, 1, N);
      await until("every message stored", async () => (await counts(store)).size >= N, {
        ms: 30_000,
        everyMs: 200,
      });
      assertExactlyOnce(await counts(store), N);
      const open = (await readAll(store, ORIGIN, "syslog")).find((r) => r.kind === "!open")!;
      assert.match(open.payload.toString(), /transport=tls format=syslog/);
    } finally {
      await stop(rs);
      await d.stop();
    }
  });
});
