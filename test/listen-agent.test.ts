// `[[listen]] protocol = "agent"` (mutual TLS; the receiving side of a `logward` output with
// `address`) against a real `logward serve`: what the config refuses, in one sentence naming
// the table and key; a hostile peer with a good client certificate that sends no hello, a
// frame that is no hello, a hello longer than the limit, or a stream name that is no name: the
// connection is refused, nothing stored, an event, the collector goes on; a listener added by
// SIGHUP starts and takes sessions. Certificates by the real openssl CLI.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { helloStream } from "../src/collector/agent-hello.ts";
import { loadConfig } from "../src/config/load.ts";
import { encodeHello, encodeRecord, ReplyDecoder } from "../src/wire/agent.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, makePki, type Pki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const { collector } = tracked();

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

const listen = (extra: string) =>
  `[[listen]]\nprotocol = "agent"\naddress = "127.0.0.1:6515"\ntls_cert = "/c"\ntls_key = "/k"\n${extra}`;

test("[[listen]] protocol = agent: mutual TLS only, no stream, origin cert or a name", () => {
  assert.equal(problems(listen('transport = "tls"\ntls_ca = "/ca"\norigin = "cert"\n')), "");
  assert.match(
    problems(listen('transport = "tls"\norigin = "cert"\n')),
    /listen #1: tls_ca is required for protocol = "agent"/,
  );
  assert.match(
    problems('[[listen]]\nprotocol = "agent"\ntransport = "tcp"\naddress = "127.0.0.1:6515"\norigin = "x"\n'),
    /listen #1: transport must be "tls" for protocol = "agent"/,
  );
  assert.match(
    problems(listen('transport = "tls"\ntls_ca = "/ca"\norigin = "address"\n')),
    /listen #1: origin = "address" cannot be used with protocol = "agent"/,
  );
  assert.match(
    problems(listen('transport = "tls"\ntls_ca = "/ca"\norigin = "cert"\nstream = "x"\n')),
    /listen #1: stream does not apply to protocol = "agent"/,
  );
});

test('[[output]] type = "logward": command or address with its three TLS files', () => {
  const out = (extra: string) => `[[output]]\nname = "central"\ntype = "logward"\n${extra}`;
  const tls = 'address = "central.example:6515"\ntls_cert = "/c"\ntls_key = "/k"\ntls_ca = "/ca"\n';
  assert.equal(problems(out(tls)), "");
  assert.equal(problems(out(`${tls}server_name = "central"\n`)), "");
  assert.match(problems(out("")), /output central: command must be a command line for sh, or address/);
  assert.match(
    problems(out(`${tls}command = "cat"\n`)),
    /output central: command must be left out when address/,
  );
  assert.match(
    problems(out('address = "central.example:6515"\ntls_cert = "/c"\ntls_key = "/k"\n')),
    /output central: tls_ca must be an absolute path to a PEM file \(required with address/,
  );
  assert.match(problems(out('command = "cat"\ntls_ca = "/ca"\n')), /output central: tls_ca must be left out/);
  assert.match(
    problems(out(tls.replace("central.example:6515", "nowhere"))),
    /output central: address must be/,
  );
});

test("helloStream: a hello frame's stream, null while incomplete, else an error", () => {
  const h = encodeHello({ stream: "vm1.app", spool: "fwd-1" });
  assert.equal(helloStream(h), "vm1.app");
  assert.equal(helloStream(h.subarray(0, 7)), null);
  assert.throws(() => helloStream(encodeRecord(1, Buffer.from("x"))), /not a logward-agent hello/);
  const long = Buffer.from([0x48, 0, 0, 2, 1]);
  assert.throws(() => helloStream(long), /longer than 512 bytes/);
  assert.throws(() => helloStream(encodeHello({ stream: "../x", spool: "s" })), /not a valid stream name/);
});

describe("an agent listener and hostile peers", { timeout: 120_000 }, () => {
  const dir = tempDir();
  let pki: Pki;
  let client: { cert: string; key: string };
  before(async () => {
    pki = await makePki(dir, "good");
    client = await pki.clientCert("peer1");
  });

  const config = (port: number) => `[[listen]]
protocol = "agent"
transport = "tls"
address = "127.0.0.1:${port}"
tls_cert = "${pki.serverCert}"
tls_key = "${pki.serverKey}"
tls_ca = "${pki.ca}"
origin = "cert"
handshake_timeout = "1s"
`;

  /** A TLS connection with the good client certificate; resolves once it is closed, with the replies. */
  function peer(port: number, send: (s: TLSSocket) => void): Promise<string[]> {
    return new Promise((resolve) => {
      const replies: string[] = [];
      const decoder = new ReplyDecoder((r) =>
        replies.push(r.type === "end" ? `end ${r.end.message}` : r.type),
      );
      const s = connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: readFileSync(pki.ca),
        cert: readFileSync(client.cert),
        key: readFileSync(client.key),
      });
      s.on("secureConnect", () => send(s));
      s.on("data", (d: Buffer) => {
        try {
          decoder.push(d);
        } catch {
          replies.push("garbage");
        }
      });
      s.on("error", () => {});
      s.on("close", () => resolve(replies));
    });
  }

  test("no hello, a record first, a hello over 512 bytes, a bad stream name, a reset: refused, nothing stored, an event", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await collector(store, config(port));
    // says nothing: refused at handshake_timeout
    assert.deepEqual(await peer(port, () => {}), []);
    // a record before any hello
    assert.deepEqual(await peer(port, (s) => s.write(encodeRecord(1, Buffer.from("sneaky\n")))), []);
    // a hello frame whose length is 64 KiB: refused on its 5-byte head, never buffered
    assert.deepEqual(await peer(port, (s) => s.write(Buffer.from([0x48, 0, 1, 0, 0]))), []);
    // a stream name that would be a path
    const bad = encodeHello({ stream: "..", spool: "s1" });
    assert.deepEqual(
      await peer(port, (s) => s.write(Buffer.concat([bad, encodeRecord(1, Buffer.from("x"))]))),
      [],
    );
    // half a hello, then a TCP reset: the collector goes on (the good peer below)
    await new Promise<void>((resolve) => {
      const raw = tcpConnect(port, "127.0.0.1");
      raw.on("error", () => {});
      const s = connect({
        socket: raw,
        servername: "localhost",
        ca: readFileSync(pki.ca),
        cert: readFileSync(client.cert),
        key: readFileSync(client.key),
      });
      s.on("error", () => {});
      s.on("secureConnect", () => {
        s.write(Buffer.from([0x48, 0, 0, 0, 40, 0x6c]));
        setTimeout(() => {
          raw.resetAndDestroy();
          resolve();
        }, 50);
      });
    });
    await until(
      "the refusals in the events",
      async () =>
        (await readAll(store, "_logward", "events")).some((r) =>
          /event=refused .*kind=bad-hello/.test(r.payload.toString()),
        ),
      { ms: 10_000, everyMs: 200 },
    );
    // a good peer still gets its welcome and its ack: the collector went on
    const spool = "s1";
    const replies = await peer(port, (s) => {
      s.write(Buffer.concat([encodeHello({ stream: "app", spool }), encodeRecord(1, Buffer.from("kept"))]));
      s.end();
    });
    assert.deepEqual(replies, ["welcome", "ack", "end durable"]);
    await d.stop();
    const stored = (await readAll(store, "peer1", "app")).filter((r) => r.kind === ".");
    assert.deepEqual(
      stored.map((r) => r.payload.toString()),
      ["kept"],
    );
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString()).join("\n");
    assert.match(events, /kind=bad-hello/);
    assert.doesNotMatch(events, /event=error/);
  });

  test("SIGHUP: an agent listener added to the configuration starts and takes sessions", async () => {
    const store = tempDir();
    const port = await freePort();
    const file = join(dir, "reload.toml");
    writeFileSync(file, "");
    const { spawn } = await import("node:child_process");
    const { BIN } = await import("./helpers/cli.ts");
    const { ALLOW_ROOT } = await import("./helpers/daemon.ts");
    const proc = spawn(process.execPath, [BIN, "serve", "--store", store, "--config", file, ...ALLOW_ROOT], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOGWARD_UI_PORT: "0" },
    });
    let out = "";
    proc.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    proc.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    try {
      await until("serve ready", () => /ready/.test(out), { ms: 15_000, everyMs: 50 });
      writeFileSync(file, config(port));
      proc.kill("SIGHUP");
      let replies: string[] = [];
      await until(
        "the new listener's welcome",
        async () => {
          replies = await peer(port, (s) => {
            s.write(
              Buffer.concat([encodeHello({ stream: "app", spool: "r1" }), encodeRecord(1, Buffer.from("x"))]),
            );
            s.end();
          });
          return replies.length > 0;
        },
        { ms: 15_000, everyMs: 200 },
      );
      assert.deepEqual(replies, ["welcome", "ack", "end durable"]);
    } finally {
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
  });
});
