// `[[listen]]` read once with every problem named by its table and key, and what `serve`
// refuses when it starts (a key file it cannot read, an address in use, unix for now): one
// sentence naming the table and key, nothing listening.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { Collector } from "../src/collector/collector.ts";
import { addressOrigin } from "../src/collector/peer-origin.ts";
import { loadConfig } from "../src/config/load.ts";
import { freePort, makePki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";

function problems(toml: string): string {
  const file = join(tempDir(), "logward.toml");
  writeFileSync(file, toml);
  try {
    loadConfig("/store", file);
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

test("[[listen]]: a good table is read with its defaults", () => {
  const file = join(tempDir(), "logward.toml");
  writeFileSync(file, '[[listen]]\ntransport = "tcp"\naddress = "[::1]:514"\norigin = "address"\n');
  const [l] = loadConfig("/store", file).listen;
  assert.deepEqual(
    { ...l },
    {
      index: 0,
      protocol: "syslog",
      transport: "tcp",
      address: "[::1]:514",
      host: "::1",
      port: 514,
      tlsCert: null,
      tlsKey: null,
      tlsCa: null,
      origin: "address",
      stream: "syslog",
      maxConnections: 256,
      handshakeTimeoutMs: 10_000,
      mode: 0o666,
    },
  );
});

test("[[listen]]: every problem is one sentence naming the table and key", () => {
  const m = problems(
    [
      "[[listen]]",
      'transport = "tcp"',
      'address = "127.0.0.1:514"',
      'origin = "cert"',
      "[[listen]]",
      'transport = "tls"',
      'address = "127.0.0.1:99999"',
      'origin = "bad name"',
      'tls_cert = "relative.crt"',
      "[[listen]]",
      'protocol = "relp"',
      'transport = "udp"',
      'address = "127.0.0.1:514"',
      'origin = "x"',
      'stream = "../etc"',
      "colour = 1",
      "[[listen]]",
      'transport = "tcp"',
      'address = "127.0.0.1:514"',
      'origin = "y"',
      'tls_ca = "/ca.crt"',
    ].join("\n"),
  );
  for (const want of [
    'listen #1: origin = "cert" needs transport = "tls" and tls_ca',
    'listen #2: address must be host:port such as "127.0.0.1:6514"',
    'listen #2: origin must be "cert", "address" or an origin name',
    'listen #2: tls_key is required for transport = "tls"',
    'listen #2: tls_cert must be an absolute path to a PEM file, not "relative.crt"',
    'listen #3: transport must be "tcp" or "tls" for protocol = "relp"',
    "listen #3: stream must be a stream name",
    "listen #3: colour is not a known setting",
    "listen #4: address 127.0.0.1:514 is already used by listen #1",
    'listen #4: tls_ca applies only to transport = "tls"',
  ])
    assert.ok(m.includes(want), `${want}\n  in: ${m}`);
  assert.ok(
    problems('[listen]\ntransport = "tcp"').includes("listen must be an array of tables: [[listen]]"),
  );
});

/** Collector.start's error for a configuration with these listeners. */
async function startError(toml: string): Promise<string> {
  const dir = tempDir();
  const file = join(dir, "logward.toml");
  writeFileSync(file, toml);
  const store = join(dir, "store");
  try {
    const c = await Collector.start(store, loadConfig(store, file));
    await c.stop();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

test("serve refuses an address in use, an unreadable key, a key of another certificate, a unix path in no directory", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  const port = (busy.address() as { port: number }).port;
  try {
    assert.match(
      await startError(`[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "a"\n`),
      /^listen #1: address 127\.0\.0\.1:\d+ cannot be listened on \(it is in use\)\.$/,
    );
  } finally {
    busy.close();
  }
  const dir = tempDir();
  const pki = await makePki(dir);
  const other = await makePki(dir, "other");
  const free = await freePort();
  const tls = (key: string) =>
    `[[listen]]\ntransport = "tls"\naddress = "127.0.0.1:${free}"\norigin = "a"\ntls_cert = "${pki.serverCert}"\ntls_key = "${key}"\n`;
  assert.match(
    await startError(tls("/nonexistent/server.key")),
    /^listen #1: tls_key \/nonexistent\/server\.key cannot be read \(ENOENT\)\.$/,
  );
  assert.match(
    await startError(tls(other.serverKey)),
    /^listen #1: tls_cert .* are not a usable certificate, key and CA/,
  );
  assert.equal(await startError(tls(pki.serverKey)), "");
  const file = join(dir, "a-file");
  writeFileSync(file, "");
  assert.match(
    await startError(`[[listen]]\ntransport = "unix"\naddress = "${file}/log"\norigin = "local"\n`),
    /^listen #1: address \S+\/a-file\/log cannot be listened on: \S+\/a-file is not a directory; create it or choose another path\.$/,
  );
});

test("peer addresses as origin names: one name per address, all valid", () => {
  assert.equal(addressOrigin("192.168.1.5"), "192.168.1.5");
  assert.equal(addressOrigin("::ffff:10.0.0.1"), "10.0.0.1");
  assert.equal(addressOrigin("::1"), "ip6-0000-0000-0000-0000-0000-0000-0000-0001");
  assert.equal(addressOrigin("2001:db8::1:0:0:1"), "ip6-2001-0db8-0000-0000-0001-0000-0000-0001");
  assert.equal(addressOrigin("fe80::1%eth0"), "ip6-fe80-0000-0000-0000-0000-0000-0000-0001");
  assert.equal(addressOrigin("not an address"), null);
});
