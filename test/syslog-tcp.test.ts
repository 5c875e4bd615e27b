// `[[listen]] transport = "tcp"` with util-linux `logger` as the real peer: octet counting
// (--octet-count) and LF framing on one listener, RFC 5424 and RFC 3164; each message stored
// exactly as sent, under the origin the channel gives (the peer address, or a fixed name),
// never the HOSTNAME the message claims.

import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, runPeer, storedMessages } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

describe("syslog over TCP with logger", { timeout: 60_000 }, () => {
  test("octet-counted and LF-framed, RFC 5424 and 3164: stored as sent, origin from the address", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      `[[listen]]\nprotocol = "syslog"\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "address"\n`,
    );
    try {
      const logger = (...args: string[]) =>
        runPeer("logger", [
          "--tcp",
          "--server",
          "127.0.0.1",
          "--port",
          String(port),
          "--tag",
          "app",
          ...args,
        ]);
      await logger("--octet-count", "--rfc5424", "--msgid", "M1", "first five424");
      await logger("--rfc3164", "second three164 LF");
      await logger("--octet-count", "--rfc3164", "third three164 counted");
      await logger("--rfc5424", "--sd-id", "x@1", "--sd-param", 'k="v"', 'fourth with "SD"');
      // a sender that claims another HOSTNAME: data, never the origin
      const forged = connect(port, "127.0.0.1");
      forged.end("<13>1 - forged.example app - - - fifth, forged\n");
      await until(
        "five messages stored",
        async () => (await storedMessages(store, "127.0.0.1")).length === 5,
      );
      const got = await storedMessages(store, "127.0.0.1");
      assert.match(got[0]!, /^<13>1 \S+ \S+ app \S+ M1 \[timeQuality[^\]]*\] first five424$/);
      assert.match(got[1]!, /^<13>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ app(\[\d+\])?: second three164 LF$/);
      assert.match(got[2]!, /^<13>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ app(\[\d+\])?: third three164 counted$/);
      assert.match(got[3]!, /\[x@1 k="v"\] fourth with "SD"$/);
      assert.equal(got[4], "<13>1 - forged.example app - - - fifth, forged");
      // the claimed hostname is data: nothing was stored under it
      assert.deepEqual(await storedMessages(store, "forged.example"), []);
      // each connection is a session with its !open and !close, format syslog, transport tcp
      const recs = await readAll(store, "127.0.0.1", "syslog");
      const opens = recs.filter((r) => r.kind === "!open").map((r) => r.payload.toString());
      assert.equal(opens.length, 5);
      assert.match(opens[0]!, /transport=tcp format=syslog/);
      await until(
        "sessions closed",
        async () =>
          (await readAll(store, "127.0.0.1", "syslog")).filter((r) => r.kind === "!close").length === 5,
      );
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });

  test("a fixed origin and stream; many messages on one connection all arrive once, in order", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      `[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "router1"\nstream = "net"\n`,
    );
    try {
      const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
      const { spawn } = await import("node:child_process");
      const p = spawn(
        "logger",
        ["--tcp", "--server", "127.0.0.1", "--port", String(port), "--octet-count", "--tag", "bulk"],
        {
          stdio: ["pipe", "ignore", "inherit"],
        },
      );
      p.stdin.end(`${lines.join("\n")}\n`);
      await new Promise((r) => p.once("exit", r));
      await until("500 messages", async () => (await storedMessages(store, "router1", "net")).length === 500);
      const got = await storedMessages(store, "router1", "net");
      assert.deepEqual(
        got.map((m) => m.replace(/^.* /, "").length > 0 && /line (\d+)$/.exec(m)![1]),
        lines.map((_, i) => String(i)),
      );
      assert.deepEqual(await storedMessages(store, "127.0.0.1", "net"), []);
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });

  test("a rate limit slows the connection down (backpressure), nothing is dropped", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      `[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "slow"\n[[policy]]\nmatch = "slow"\nrate = "200/s"\n`,
    );
    try {
      const n = 600;
      const started = Date.now();
      const sock = connect(port, "127.0.0.1");
      // six writes of 100: the first two fit the burst (one second's worth), then the session
      // stops reading for as long as the rate says, and what was sent meanwhile waits
      for (let c = 0; c < 6; c++) {
        sock.write(Array.from({ length: 100 }, (_, i) => `<13>1 - - app - - - ${c * 100 + i}\n`).join(""));
        await new Promise((r) => setTimeout(r, 30));
      }
      sock.end();
      await until("all stored", async () => (await storedMessages(store, "slow")).length === n, {
        ms: 20_000,
      });
      assert.ok(Date.now() - started >= 450, `took ${Date.now() - started} ms`);
      assert.deepEqual(
        await storedMessages(store, "slow"),
        Array.from({ length: n }, (_, i) => `<13>1 - - app - - - ${i}`),
      );
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });

  test("max_connections: one more connection is refused and counted", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      `[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "address"\nmax_connections = 2\n`,
    );
    try {
      const open = [connect(port, "127.0.0.1"), connect(port, "127.0.0.1")];
      for (const s of open) s.write("<13>1 - - app - - - held\n");
      await until("two held", async () => (await storedMessages(store, "127.0.0.1")).length === 2);
      const third = connect(port, "127.0.0.1");
      third.on("error", () => {});
      await new Promise((r) => third.once("close", r));
      await until("the refusal recorded", async () =>
        (await readAll(store, "_logward", "events")).some((r) =>
          /event=refused .*kind=too-many-connections/.test(r.payload.toString()),
        ),
      );
      for (const s of open) s.end();
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });
});
