import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FRAME_END, FrameDecoder } from "../src/wire/relay.ts";
import { BIN } from "./helpers/cli.ts";
import { ALLOW_ROOT, ingest, rawSession, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

/** How many refusals an event stands for: repeats are aggregated (`repeated=N`). */
const weight = (e: string) => Number(/ repeated=(\d+)/.exec(e)?.[1] ?? 1);
const sum = (es: string[]) => es.map(weight).reduce((a, b) => a + b, 0);

const payloads = (recs: { kind: string; payload: Buffer }[]) =>
  recs.filter((r) => r.kind === ".").map((r) => r.payload.toString("latin1"));

describe("logward serve and ingest", { timeout: 120_000 }, () => {
  test("ingest with the qrexec environment stores lines under the channel's origin, exit 0 when durable", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const r = await ingest(
        store,
        "lines",
        "first\nhost=evil forged\r\n\x1b]0;t\x07\n\0nul\nlast without LF",
        {
          QREXEC_REMOTE_DOMAIN: "work",
          QREXEC_SERVICE_ARGUMENT: "app",
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length, 0, "nothing is written to a lines sender");
      const recs = await readAll(store, "work", "app");
      assert.deepEqual(payloads(recs), [
        "first",
        "host=evil forged\r",
        "\x1b]0;t\x07",
        "\0nul",
        "last without LF",
      ]);
      assert.equal(recs[0]!.kind, "!open");
      assert.match(
        recs.at(-1)!.payload.toString(),
        /^session=[0-9a-f]{16} records=5 bytes=\d+ truncated=0 reason=eof$/,
      );
      // a second session from a disposable that reuses the name is told apart by its id
      await ingest(store, "lines", "again\n", {
        QREXEC_REMOTE_DOMAIN: "work",
        QREXEC_SERVICE_ARGUMENT: "app",
      });
      const ids = (await readAll(store, "work", "app"))
        .filter((x) => x.kind === "!open")
        .map((x) => /session=(\w+)/.exec(x.payload.toString())![1]);
      assert.equal(new Set(ids).size, 2);
    } finally {
      assert.equal(await d.stop(), 0);
    }
  });

  test("ingest refuses without a valid QREXEC_REMOTE_DOMAIN or stream, in one sentence", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      for (const [env, code, msg] of [
        [{}, 2, /QREXEC_REMOTE_DOMAIN is not set/],
        [{ QREXEC_REMOTE_DOMAIN: "../etc" }, 2, /not a valid VM name/],
        [{ QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "-rf" }, 2, /not a valid stream name/],
        [{ QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "a/b" }, 2, /not a valid stream name/],
      ] as const) {
        const r = await ingest(store, "lines", "x\n", env);
        assert.equal(r.code, code, JSON.stringify(env));
        assert.match(r.stderr, msg);
        assert.equal(r.stderr.trim().split("\n").length, 1);
      }
    } finally {
      await d.stop();
    }
    const none = await ingest(tempDir(), "lines", "x\n", { QREXEC_REMOTE_DOMAIN: "work" });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No collector is running for this store/);
  });

  test("a 100 MB line is stored cut at the record limit and marked, never split", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const big = Buffer.alloc(100 * 1024 * 1024, 0x41);
      const r = await ingest(
        store,
        "lines",
        Buffer.concat([Buffer.from("before\n"), big, Buffer.from("\nafter\n")]),
        {
          QREXEC_REMOTE_DOMAIN: "flood",
        },
      );
      assert.equal(r.code, 0, r.stderr);
      const recs = await readAll(store, "flood", "main");
      assert.deepEqual(
        recs.map((x) => x.kind),
        ["!open", ".", ".", "!trunc", ".", "!close"],
      );
      assert.equal(recs[2]!.payload.length, 64 * 1024);
      assert.match(
        recs[3]!.payload.toString(),
        new RegExp(`^seq=3 kept=65536 received=${100 * 1024 * 1024} `),
      );
      assert.match(recs[5]!.payload.toString(), /records=3 .* truncated=1 reason=eof/);
    } finally {
      await d.stop();
    }
  });

  test("octet counting: records stored; a lying count ends the session and is recorded", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const ok = await ingest(store, "octets", "5 hello11 hello world", { QREXEC_REMOTE_DOMAIN: "sys-net" });
      assert.equal(ok.code, 0, ok.stderr);
      for (const lie of ["5 hello-1 x", "5 hello99999999999 x", "5 helloabc", "5 hello20 short"]) {
        const r = await ingest(store, "octets", lie, { QREXEC_REMOTE_DOMAIN: "liar" });
        assert.equal(r.code, 1, lie);
        assert.match(r.stderr, /The collector ended the session: protocol error: .*octet/);
      }
      assert.deepEqual(payloads(await readAll(store, "sys-net", "main")), ["hello", "hello world"]);
      assert.deepEqual(payloads(await readAll(store, "liar", "main")), ["hello", "hello", "hello", "hello"]);
    } finally {
      await d.stop();
    }
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());
    assert.ok(
      events.some((e) => /event=session-error .*origin=liar reason="protocol error: bad octet count/.test(e)),
    );
  });

  test("qrexec socket service: the descriptor names origin and stream; bad descriptors are refused", async () => {
    const store = tempDir();
    const sock = join(store, "..", `svc-${Math.random().toString(36).slice(2)}.sock`);
    const d = await serve(store, `[collector]\nqrexec_sockets = ["${sock}"]\n`);
    try {
      const good = rawSession(sock, Buffer.from("logward.Lines+kern sys-usb\0usb device attached\nsecond\n"));
      assert.equal((await good.done).length, 0, "nothing is written back to a lines sender");
      const oct = rawSession(sock, Buffer.from("logward.Octets dispNNNN\x003 abc"));
      await oct.done;
      for (const bad of [
        "logward.Lines+../x work\0data\n",
        "logward.Lines work extra\0data\n",
        "evil.Service work\0data\n",
        "logward.Lines ../../etc\0data\n",
        "logward.Lines+kern \0data\n",
        "no-nul-at-all ".repeat(30),
      ]) {
        await rawSession(sock, Buffer.from(bad)).done;
      }
    } finally {
      await d.stop();
    }
    assert.deepEqual(payloads(await readAll(store, "sys-usb", "kern")), ["usb device attached", "second"]);
    assert.match(
      (await readAll(store, "sys-usb", "kern"))[0]!.payload.toString(),
      /transport=qrexec-socket format=lines/,
    );
    assert.deepEqual(payloads(await readAll(store, "dispNNNN", "main")), ["abc"]);
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());
    assert.equal(sum(events.filter((e) => /event=refused transport=qrexec/.test(e))), 6);
    const { readdirSync } = await import("node:fs");
    assert.deepEqual(readdirSync(join(store, "origins")).sort(), ["_logward", "dispNNNN", "sys-usb"]);
  });

  test("session limit, a session that never sends, and 500 concurrent sessions", async () => {
    const store = tempDir();
    const d = await serve(
      store,
      `[collector]\nmax_sessions = 100\nmax_sessions_per_origin = 100\nfirst_byte_timeout = "1s"\nheader_timeout = "1s"\n`,
    );
    const path = join(store, "run", "ingest.sock");
    try {
      // 150 sessions that open and wait: 100 accepted, 50 refused with a reason
      const waiting = Array.from({ length: 150 }, (_, i) =>
        rawSession(path, `logward-relay 1 lines vm${i} main\n`, true),
      );
      const replies = await Promise.all(waiting.map((w) => w.done)); // closed by the first-byte timeout or refused
      const ends: { ok: boolean; message: string }[] = replies.map((buf) => {
        let end = { ok: false, message: "no end frame" };
        new FrameDecoder((type, p) => {
          if (type === FRAME_END) end = JSON.parse(p.toString());
        }).push(buf);
        return end;
      });
      assert.equal(ends.filter((e) => /too many sessions/.test(e.message)).length, 50);
      assert.equal(ends.filter((e) => e.message === "timeout").length, 100);
      // a connection that never sends its header is dropped too
      const silent = rawSession(path, "", true);
      await silent.done;
      // 500 sessions at once against a limit of 100: each is stored or refused, none lost silently
      const many = await Promise.all(
        Array.from(
          { length: 500 },
          (_, i) => rawSession(path, `logward-relay 1 lines many main\nrecord ${i}\n`).done,
        ),
      );
      assert.equal(many.length, 500);
      // and the daemon is still healthy
      const after = await ingest(store, "lines", "still here\n", { QREXEC_REMOTE_DOMAIN: "work" });
      assert.equal(after.code, 0, after.stderr);
    } finally {
      await d.stop();
    }
    const stored = payloads(await readAll(store, "many", "main"));
    const ok = stored.length;
    assert.ok(ok >= 100, `at least the limit's worth of sessions stored (${ok})`);
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());
    assert.equal(
      sum(events.filter((e) => /too many sessions/.test(e))),
      50 + (500 - ok),
      "every refusal is recorded",
    );
    assert.ok(events.some((e) => /no header in time/.test(e)));
  });

  test("NOTIFY_SOCKET gets READY=1; SIGTERM keeps what was received; a second daemon is refused", async () => {
    const store = tempDir();
    const notify = join(store, "..", `notify-${Math.random().toString(36).slice(2)}.sock`);
    const listener = spawn("python3", [
      "-c",
      "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('bound',flush=True)\nprint(s.recv(4096).decode(),flush=True)",
      notify,
    ]);
    let heard = "";
    listener.stdout.on("data", (b: Buffer) => {
      heard += b.toString();
    });
    await new Promise<void>((r) => listener.stdout.once("data", () => r()));
    const d = await serve(store, undefined, { NOTIFY_SOCKET: notify });
    const second = spawn(process.execPath, [BIN, "serve", "--store", store, ...ALLOW_ROOT], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let secondErr = "";
    second.stderr.on("data", (b: Buffer) => {
      secondErr += b.toString();
    });
    assert.equal(await new Promise((r) => second.once("exit", r)), 1);
    assert.match(secondErr, /already writing the store/);
    // a session in the middle of sending when SIGTERM comes
    const path = join(store, "run", "ingest.sock");
    const live = rawSession(path, "logward-relay 1 lines work main\nkept 1\nkept 2\n", true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await d.stop(), 0);
    const reply = await live.done;
    assert.match(reply.toString("latin1"), /"ok":false.*shutdown/);
    await new Promise((r) => setTimeout(r, 300));
    listener.kill();
    assert.match(heard, /READY=1/);
    const recs = await readAll(store, "work", "main");
    assert.deepEqual(payloads(recs), ["kept 1", "kept 2"]);
    assert.match(recs.at(-1)!.payload.toString(), /reason=shutdown/);
  });

  test("a bad configuration is refused at start with every problem listed", async () => {
    const store = tempDir();
    const file = join(store, "..", "bad.toml");
    writeFileSync(file, `[collector]\nmax_record = "2GiB"\nmax_sessions = 0\nbogus = 1\n[nonsense]\n`);
    const p = spawn(process.execPath, [BIN, "serve", "--store", store, "--config", file], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (b: Buffer) => {
      err += b.toString();
    });
    assert.equal(await new Promise((r) => p.once("exit", r)), 2);
    assert.match(err, /has 4 problem\(s\)/);
    for (const m of [
      /collector\.max_record must be/,
      /collector\.max_sessions must be/,
      /collector\.bogus is not a known setting/,
      /\[nonsense\] is not a known section/,
    ]) {
      assert.match(err, m);
    }
  });
});
