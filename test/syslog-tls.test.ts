// `[[listen]] transport = "tls"` with mutual authentication, against `openssl s_client`: a
// client certificate of the configured CA is let in and names the origin (its CN); one of
// another CA, none at all, a CN that is no origin name, or a handshake never finished are
// refused: nothing stored, one line on stderr and an `event=refused` in `_logward/events`.
// A SIGHUP makes the listener read its certificate again. Certificates are made by the real
// openssl CLI in the test's temp dir.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Daemon, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, makePki, type Pki, storedMessages } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

/** Runs s_client with `input` on stdin; resolves with its exit code and output. */
function sClient(port: number, args: string[], input: string): Promise<{ code: number | null; out: string }> {
  const p = spawn(
    "openssl",
    ["s_client", "-connect", `127.0.0.1:${port}`, "-quiet", "-no_ign_eof", ...args],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let out = "";
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  p.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  // write after a moment so that a refusal after the handshake (TLS 1.3) is read, not raced
  setTimeout(() => p.stdin.end(input), 300);
  const timer = setTimeout(() => p.kill(), 10_000);
  return new Promise((r) =>
    p.once("exit", (code) => {
      clearTimeout(timer);
      r({ code, out });
    }),
  );
}

const events = async (store: string) =>
  (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());

describe("syslog over TLS with mutual authentication", { timeout: 60_000 }, () => {
  const dir = tempDir();
  const store = tempDir();
  let good: Pki;
  let other: Pki;
  let port: number;
  let d: Daemon | undefined;
  let etc: string;
  after(async () => {
    if (d && d.proc.exitCode === null) await d.stop();
  });

  before(async () => {
    [good, other] = await Promise.all([makePki(dir, "good"), makePki(dir, "other")]);
    // the server's files where a SIGHUP will find new ones
    etc = join(dir, "etc");
    mkdirSync(etc);
    copyFileSync(good.serverCert, join(etc, "server.crt"));
    copyFileSync(good.serverKey, join(etc, "server.key"));
    port = await freePort();
    d = await serve(
      store,
      [
        "[[listen]]",
        'protocol = "syslog"',
        'transport = "tls"',
        `address = "127.0.0.1:${port}"`,
        `tls_cert = "${join(etc, "server.crt")}"`,
        `tls_key = "${join(etc, "server.key")}"`,
        `tls_ca = "${good.ca}"`,
        'origin = "cert"',
        'handshake_timeout = "1s"',
      ].join("\n"),
    );
  });

  test("a client certificate of the CA: stored under its CN, never the claimed HOSTNAME", async () => {
    const c = await good.clientCert("web1");
    const r = await sClient(
      port,
      ["-cert", c.cert, "-key", c.key, "-CAfile", good.ca, "-verify_return_error"],
      "<13>1 2024-01-01T00:00:00Z forged.example app - - - over TLS, LF\n29 <14>1 - - app - - - counted",
    );
    assert.equal(r.code, 0, r.out);
    await until("two records under web1", async () => (await storedMessages(store, "web1")).length === 2);
    assert.deepEqual(await storedMessages(store, "web1"), [
      "<13>1 2024-01-01T00:00:00Z forged.example app - - - over TLS, LF",
      "<14>1 - - app - - - counted",
    ]);
    assert.deepEqual(await storedMessages(store, "forged.example"), []);
  });

  test("another CA's certificate, or none: refused at the handshake, nothing stored, an event", async () => {
    const intruder = await other.clientCert("intruder");
    const bad = await sClient(
      port,
      ["-cert", intruder.cert, "-key", intruder.key, "-CAfile", good.ca],
      "<13>1 - - app - - - from another CA\n",
    );
    assert.notEqual(bad.code, 0, bad.out);
    const none = await sClient(port, ["-CAfile", good.ca], "<13>1 - - app - - - no certificate\n");
    assert.notEqual(none.code, 0, none.out);
    await until("both refusals recorded", async () => {
      const e = await events(store);
      return (
        e.some((x) => /event=refused .*kind=tls-bad-cert/.test(x)) &&
        e.some((x) => /event=refused .*kind=tls-no-cert/.test(x))
      );
    });
    assert.deepEqual(await storedMessages(store, "intruder"), []);
    const all = await events(store);
    assert.ok(!all.some((e) => /from another CA|no certificate/.test(e)));
    assert.match(d!.out(), /refused 127\.0\.0\.1: TLS handshake failed/);
    assert.match(
      d!.out(),
      /refused 127\.0\.0\.1: TLS client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
    );
  });

  test("a CN that is no origin name is refused; so is a handshake never finished", async () => {
    const badCn = await good.clientCert("-not-a-name");
    const r = await sClient(
      port,
      ["-cert", badCn.cert, "-key", badCn.key, "-CAfile", good.ca],
      "<13>1 - - app - - - bad cn\n",
    );
    assert.ok(!/bad cn/.test(r.out));
    // a TCP connection that never starts its handshake: refused after handshake_timeout (1s)
    const silent = connect(port, "127.0.0.1");
    silent.on("error", () => {});
    await new Promise((r) => silent.once("close", r));
    await until("bad-origin and tls-timeout recorded", async () => {
      const e = await events(store);
      return (
        e.some((x) => /event=refused .*kind=bad-origin/.test(x) && /not a valid origin name/.test(x)) &&
        e.some((x) => /event=refused .*kind=tls-timeout/.test(x))
      );
    });
  });

  test("a flood of refused handshakes: one event and one stderr line per kind and minute", async () => {
    const before = (await events(store)).filter((e) => /kind=tls-no-cert/.test(e)).length;
    const linesBefore = d!
      .out()
      .split("\n")
      .filter((l) => /peer did not return a certificate|certificate required/.test(l)).length;
    await Promise.all(
      Array.from({ length: 8 }, () => sClient(port, ["-CAfile", good.ca], "<13>1 - - a - - - x\n")),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await events(store)).filter((e) => /kind=tls-no-cert/.test(e)).length, before);
    const lines = d!
      .out()
      .split("\n")
      .filter((l) => /peer did not return a certificate|certificate required/.test(l)).length;
    assert.equal(lines, linesBefore);
  });

  test("a client's renegotiation is refused: the connection ends, what came after is not stored", async () => {
    // s_client without -quiet reads "R" on a line of its own as "renegotiate" (TLS 1.2 only;
    // TLS 1.3 has no renegotiation). The listener disables it (SSL_OP_NO_RENEGOTIATION and
    // disableRenegotiation()): the attempt ends the connection, the collector stays up.
    const c = await good.clientCert("reneg");
    const p = spawn(
      "openssl",
      [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        "-tls1_2",
        "-cert",
        c.cert,
        "-key",
        c.key,
        "-CAfile",
        good.ca,
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let out = "";
    p.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise((r) => p.once("exit", r));
    p.stdin.write("<13>1 - - app - - - before renegotiation\n");
    await until("the first record stored", async () =>
      (await storedMessages(store, "reneg")).includes("<13>1 - - app - - - before renegotiation"),
    );
    p.stdin.write("R\n");
    await until("s_client tried to renegotiate", async () => /RENEGOTIATING/.test(out), { ms: 5000 });
    await new Promise((r) => setTimeout(r, 300));
    if (p.exitCode === null && p.stdin.writable) p.stdin.write("<13>1 - - app - - - after renegotiation\n");
    const timer = setTimeout(() => p.kill(), 5000);
    p.stdin.end();
    await exited;
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await storedMessages(store, "reneg"), ["<13>1 - - app - - - before renegotiation"], out);
    // the collector is still up for everyone else
    const ok = await sClient(
      port,
      ["-cert", c.cert, "-key", c.key, "-CAfile", good.ca, "-verify_return_error"],
      "<13>1 - - app - - - still up\n",
    );
    assert.equal(ok.code, 0, ok.out);
  });

  test("SIGHUP: the listener reads its certificate and key again", async () => {
    mkdirSync(join(dir, "next"));
    const next = await makePki(join(dir, "next"), "next");
    copyFileSync(next.serverCert, join(etc, "server.crt"));
    copyFileSync(next.serverKey, join(etc, "server.key"));
    d!.proc.kill("SIGHUP");
    const c = await good.clientCert("web2");
    await until(
      "the new server certificate in use",
      async () => {
        const r = await sClient(
          port,
          ["-cert", c.cert, "-key", c.key, "-CAfile", next.ca, "-verify_return_error"],
          "<13>1 - - app - - - after reload\n",
        );
        return r.code === 0;
      },
      { ms: 10_000, everyMs: 200 },
    );
    await until("stored under web2", async () =>
      (await storedMessages(store, "web2")).includes("<13>1 - - app - - - after reload"),
    );
    assert.equal(await d!.stop(), 0);
  });
});
