// The `logward` output over mutual TLS (src/output/forward-tls.ts), one Destination driven
// directly: the shared Destination contract (test/helpers/destination-suite.ts) against a real
// receiving `logward serve` with a `[[listen]] protocol = "agent"`; and hostile receivers that
// take the TLS connection but answer garbage, or nothing: the session fails with a sentence
// that says so, nothing hangs. test/forward-tls.test.ts runs two collectors end to end.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { createServer, type TLSSocket } from "node:tls";
import type { OutputConfig } from "../src/config/types.ts";
import { createDestination } from "../src/output/logward.ts";
import { destinationSuite, testHost } from "./helpers/destination-suite.ts";
import { outRecord } from "./helpers/out-records.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, makePki, type Pki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";

const { collector } = tracked();
const dir = tempDir();
let pki: Pki;
let client: { cert: string; key: string };
const ready = (async () => {
  pki = await makePki(dir, "good");
  client = await pki.clientCert("logvm1");
})();

function config(port: number): OutputConfig {
  return {
    name: "central",
    type: "logward",
    match: "*",
    start: "oldest",
    command: null,
    options: {
      sessions: 4,
      address: `127.0.0.1:${port}`,
      host: "127.0.0.1",
      port,
      server_name: null,
      tls_cert: client.cert,
      tls_key: client.key,
      tls_ca: pki.ca,
    },
    file: "/dev/null",
  };
}

let suiteReceiver = "";
let suiteDaemon: Awaited<ReturnType<typeof collector>> | null = null;
destinationSuite("logward over TLS", {
  factory: createDestination,
  start: async () => {
    await ready;
    suiteReceiver = join(tempDir(), "central");
    const port = await freePort();
    suiteDaemon = await collector(
      suiteReceiver,
      `[[listen]]\nprotocol = "agent"\ntransport = "tls"\naddress = "127.0.0.1:${port}"\ntls_cert = "${pki.serverCert}"\ntls_key = "${pki.serverKey}"\ntls_ca = "${pki.ca}"\norigin = "cert"\n`,
    );
    return { config: config(port) };
  },
  received: async () => {
    const out: string[] = [];
    const origin = join(suiteReceiver, "origins", "logvm1");
    let remotes: string[] = [];
    try {
      remotes = readdirSync(origin);
    } catch {
      return out;
    }
    for (const remote of remotes) {
      const [o, s] = remote.split(".");
      for (const r of await readAll(suiteReceiver, "logvm1", remote))
        if (r.kind === ".") out.push(`${o}/${s} ${r.ref!.split(":")[1]}`);
    }
    return out;
  },
  stop: async () => {
    await suiteDaemon?.stop();
  },
});

describe("hostile receivers", { timeout: 60_000 }, () => {
  before(() => ready);

  /** A TLS server with the good certificate that treats each connection with `serve`. */
  async function receiver(serve: (s: TLSSocket) => void): Promise<{ port: number; close(): void }> {
    const server = createServer(
      {
        cert: readFileSync(pki.serverCert),
        key: readFileSync(pki.serverKey),
        ca: readFileSync(pki.ca),
        requestCert: true,
        rejectUnauthorized: true,
      },
      serve,
    );
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    return { port, close: () => server.close() };
  }

  test("a receiver that answers garbage: the delivery fails with a sentence, the socket is closed", async () => {
    const sockets: TLSSocket[] = [];
    const r = await receiver((s) => {
      sockets.push(s);
      s.on("error", () => {});
      // an E frame claiming 4 GiB: refused on its head, never buffered
      s.write(Buffer.from([0x45, 0xff, 0xff, 0xff, 0xff]));
    });
    const h = testHost();
    const d = createDestination(config(r.port), h.host);
    await assert.rejects(
      d.deliver([outRecord("vm1", "app", 1, Buffer.from("x"))]),
      /127\.0\.0\.1:\d+: the receiver's answer is not the agent protocol/,
    );
    await d.close();
    h.stop();
    r.close();
    for (const s of sockets) s.destroy();
  });

  test("a receiver that closes at once, before any welcome: the delivery fails and says what to look at", async () => {
    const r = await receiver((s) => s.destroy());
    const h = testHost();
    const d = createDestination(config(r.port), h.host);
    await assert.rejects(
      d.deliver([outRecord("vm1", "app", 1, Buffer.from("x"))]),
      /closed the connection before its welcome/,
    );
    await d.close();
    h.stop();
    r.close();
  });
});
