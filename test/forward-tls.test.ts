// Forwarding from one logward collector to another over mutual TLS (issue 19, the `logward`
// output with `address`; the receiver's `[[listen]] protocol = "agent"`), end to end: real
// `logward serve` processes, certificates made by the real openssl CLI. 20,000 records, kill -9
// of the forwarding collector mid-stream and a restart, then kill -9 of the receiving one and a
// restart: every record exactly once, in order, at the receiver. The receiver is slowed by a
// rate limit on the forwarder's origin so that both kills land while records are in flight.
// A forwarder whose client certificate is of another CA is refused (nothing stored, an event);
// one that does not trust the receiver's certificate, or expects another name, refuses it and
// says so in `logward ls --outputs`.

import assert from "node:assert/strict";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { ingest } from "./helpers/daemon.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, makePki, type Pki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const { collector } = tracked();

const TOTAL = 20_000;
const CHUNK = 1000;

/** The receiver's config: an agent listener over mutual TLS; `extra` appended. */
function receiverConfig(pki: Pki, port: number, extra = ""): string {
  return `[[listen]]
protocol = "agent"
transport = "tls"
address = "127.0.0.1:${port}"
tls_cert = "${pki.serverCert}"
tls_key = "${pki.serverKey}"
tls_ca = "${pki.ca}"
origin = "cert"
handshake_timeout = "2s"
${extra}`;
}

/** A forwarder's config: everything of vm1 to the receiver at `port` as the client `client`. */
function forwarderConfig(
  port: number,
  client: { cert: string; key: string },
  ca: string,
  extra = "",
): string {
  return `[[output]]
name = "central"
type = "logward"
match = "vm1"
address = "127.0.0.1:${port}"
tls_cert = "${client.cert}"
tls_key = "${client.key}"
tls_ca = "${ca}"
${extra}`;
}

const vm1 = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "app" };

async function lines(store: string, from: number, to: number): Promise<void> {
  let text = "";
  for (let i = from; i <= to; i++) text += `line ${i} of vm1\n`;
  const r = await ingest(store, "lines", text, vm1);
  assert.equal(r.code, 0, r.stderr);
}

async function events(store: string): Promise<string[]> {
  return (await readAll(store, "_logward", "events").catch(() => [])).map((r) => r.payload.toString());
}

async function lastError(store: string): Promise<string> {
  const r = await logward(["ls", "--outputs", "--json", "--store", store]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout.toString()) as { name: string; last_error: string | null }[];
  return rows.find((o) => o.name === "central")?.last_error ?? "";
}

describe("logward -> logward over mutual TLS", { timeout: 300_000 }, () => {
  const dir = tempDir();
  let good: Pki;
  let other: Pki;
  before(async () => {
    [good, other] = await Promise.all([makePki(dir, "good"), makePki(dir, "other")]);
  });

  test("20,000 records exactly once through kill -9 of each collector", async () => {
    const root = tempDir();
    const sender = join(root, "logvm1");
    const central = join(root, "central");
    const port = await freePort();
    const client = await good.clientCert("logvm1");
    // ~2,000 records a second at the receiver: the 20,000 take seconds, so the kills land mid-stream
    const rconf = receiverConfig(good, port, '[[policy]]\nmatch = "logvm1"\nrate = "2000/s"\n');
    const fconf = forwarderConfig(port, client, good.ca);
    let receiving = await collector(central, rconf);
    let forwarding = await collector(sender, fconf);
    const atCentral = async () =>
      (await readAll(central, "logvm1", "vm1.app").catch(() => [])).filter(
        (r) => r.kind === "." && r.payload.toString().startsWith("line "),
      );
    const killedAt: number[] = [];

    await lines(sender, 1, 8 * CHUNK);
    await until("some records forwarded", async () => (await atCentral()).length > 0, {
      ms: 30_000,
      everyMs: 100,
    });
    forwarding.proc.kill("SIGKILL");
    await forwarding.stop();
    killedAt.push((await atCentral()).length);
    forwarding = await collector(sender, fconf);

    await lines(sender, 8 * CHUNK + 1, 14 * CHUNK);
    // records of the restarted forwarder's own session: what the killed one had already sent
    // (its socket's buffers, drained by the rate-limited receiver after the kill) came in its
    // old session, and a receiver killed before the new session opened left one session fewer
    const sessions = async () =>
      (await readAll(central, "logvm1", "vm1.app").catch(() => [])).filter((r) => r.kind === "!open").length;
    await until(
      "more records forwarded in a new session",
      async () => (await sessions()) >= 2 && (await atCentral()).length > killedAt[0]!,
      { ms: 30_000, everyMs: 100 },
    );
    receiving.proc.kill("SIGKILL");
    await receiving.stop();
    killedAt.push((await atCentral()).length);
    receiving = await collector(central, rconf);

    await lines(sender, 14 * CHUNK + 1, TOTAL);
    assert.ok(killedAt[0]! < 8 * CHUNK && killedAt[1]! < 14 * CHUNK, `killed mid-stream: ${killedAt}`);
    await until("every record at the receiver", async () => (await atCentral()).length >= TOTAL, {
      ms: 180_000,
      everyMs: 500,
    });
    await forwarding.stop();
    await receiving.stop();

    const got = await atCentral();
    assert.equal(got.length, TOTAL, "no record twice");
    assert.deepEqual(
      got.map((r) => Number(r.payload.toString().split(" ")[1])),
      Array.from({ length: TOTAL }, (_, i) => i + 1),
    );
    // the origin is the client certificate's CN; the source seq is the reference
    const source = (await readAll(sender, "vm1", "app")).filter((r) => r.kind === ".");
    assert.deepEqual(
      got.map((r) => Number(r.ref!.split(":")[1])),
      source.map((r) => r.seq),
    );
    const opens = (await readAll(central, "logvm1", "vm1.app")).filter((r) => r.kind === "!open");
    assert.ok(opens.length >= 3, "a session after each kill");
    for (const o of opens) assert.match(o.payload.toString(), /transport=tls format=agent/);
  });

  test("a client certificate of another CA is refused: nothing stored, an event, the sender's last error", async () => {
    const root = tempDir();
    const sender = join(root, "intruder");
    const central = join(root, "central");
    const port = await freePort();
    const receiving = await collector(central, receiverConfig(good, port));
    const intruder = await other.clientCert("logvm1");
    const forwarding = await collector(sender, forwarderConfig(port, intruder, good.ca));
    await lines(sender, 1, 10);
    await until(
      "a refusal at the receiver",
      async () => (await events(central)).some((e) => /event=refused .*kind=tls-bad-cert/.test(e)),
      { ms: 30_000, everyMs: 300 },
    );
    await until(
      "the forwarder says why",
      async () =>
        /before its welcome: it refused this collector's client certificate/.test(await lastError(sender)),
      { ms: 30_000, everyMs: 300 },
    );
    await forwarding.stop();
    await receiving.stop();
    const stored = await readAll(central, "logvm1", "vm1.app").catch(() => []);
    assert.equal(stored.length, 0, "nothing stored for a refused client");
  });

  test("the sender refuses a receiver certificate of another CA, or for another name", async () => {
    const root = tempDir();
    const central = join(root, "central");
    const port = await freePort();
    const receiving = await collector(central, receiverConfig(good, port));
    const client = await good.clientCert("logvm1");

    // tls_ca is not the CA that signed the receiver's certificate
    const a = join(root, "a");
    const fa = await collector(a, forwarderConfig(port, client, other.ca));
    // the right CA, but the receiver's certificate does not name central.example
    const b = join(root, "b");
    const fb = await collector(b, forwarderConfig(port, client, good.ca, 'server_name = "central.example"'));
    await lines(a, 1, 5);
    await lines(b, 1, 5);
    await until(
      "the untrusted certificate named",
      async () => /receiver's certificate is refused .*signed by tls_ca/.test(await lastError(a)),
      { ms: 30_000, everyMs: 300 },
    );
    await until(
      "the wrong name named",
      async () => /receiver's certificate does not name central\.example/.test(await lastError(b)),
      { ms: 30_000, everyMs: 300 },
    );
    await fa.stop();
    await fb.stop();
    await receiving.stop();
    assert.equal((await readAll(central, "logvm1", "vm1.app").catch(() => [])).length, 0);
  });
});
