// `[[listen]] transport = "unix"`: a datagram socket like /dev/log, bound by the Python helper
// (src/wire/unix-datagrams.ts). Real peers: util-linux `logger -u` (RFC 3164 and 5424, with
// --socket-errors=on so a missing socket fails it) and glibc's own syslog(3), compiled with cc
// and pointed at the listener by a private mount namespace in which /dev is the test's
// directory (glibc's syslog(3) only ever writes to /dev/log). Backpressure instead of drops
// (10,000 datagrams from a blocking sender, exactly once in order), kill -9 and restart, SIGHUP,
// and the hostile cases (registered in test/hostile/cases.ts).

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { FrameReader } from "../src/wire/unix-datagrams.ts";
import { type Daemon, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { runPeer, storedMessages } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const unixListen = (path: string, origin = "local", extra = "") =>
  `[[listen]]\ntransport = "unix"\naddress = "${path}"\norigin = "${origin}"\n${extra}`;

/** A store and a socket path in a fresh directory. */
function place(): { dir: string; store: string; sock: string } {
  const dir = tempDir();
  return { dir, store: join(dir, "store"), sock: join(dir, "log") };
}

const logger = (sock: string, ...args: string[]) =>
  runPeer("logger", ["-u", sock, "--socket-errors=on", "--tag", "app", ...args]);

/** Sends datagrams with Python's blocking socket module (a sender that waits when the queue is full). */
function pySend(sock: string, program: string): { status: number | null; stderr: string } {
  const r = spawnSync(
    "python3",
    [
      "-c",
      `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.connect(sys.argv[1])\n${program}`,
      sock,
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  return { status: r.status, stderr: r.stderr };
}

/** The pids of helpers serving `sock` (their command line names it). */
function helpersOf(sock: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0");
      if (args.some((a) => a.endsWith("syslog-dgram.py")) && args.includes(sock)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function stopped(d: Daemon): Promise<void> {
  assert.equal(await d.stop(), 0, d.out());
}

describe("syslog over a unix datagram socket", { timeout: 180_000 }, () => {
  test("logger -u with --socket-errors=on, and --rfc5424: one datagram one record, the fixed origin", async () => {
    const { store, sock } = place();
    const d = await serve(store, unixListen(sock));
    try {
      const st = lstatSync(sock);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o666, "like /dev/log: anyone may write");
      await logger(sock, "first over unix");
      await logger(sock, "--rfc5424", "second over unix");
      await until("two datagrams stored", async () => (await storedMessages(store, "local")).length === 2);
      const got = await storedMessages(store, "local");
      assert.match(got[0]!, /^<13>\w{3} [ \d]\d \d\d:\d\d:\d\d app(\[\d+\])?: first over unix$/);
      assert.match(got[1]!, /^<13>1 \S+ \S+ app - - \[timeQuality[^\]]*\] second over unix$/);
    } finally {
      await stopped(d);
    }
    assert.equal(existsSync(sock), false, "the socket is removed on stop");
    const recs = await readAll(store, "local", "syslog");
    assert.match(recs[0]!.payload.toString(), /transport=unix format=syslog/);
    assert.match(recs.at(-1)!.payload.toString(), /records=2 truncated=0 reason=shutdown/);
    // and with serve gone, logger --socket-errors=on says so
    await assert.rejects(logger(sock, "nobody listens"));
  });

  test("glibc's syslog(3): openlog and syslog through /dev/log, every message once in order", async (t) => {
    const { dir, store, sock } = place();
    const n = 200;
    const cc = spawnSync("cc", ["--version"]);
    const canMount = spawnSync("unshare", ["-m", "true"]).status === 0;
    const d = await serve(store, unixListen(sock, "local", `mode = "0660"\n`));
    try {
      assert.equal(statSync(sock).mode & 0o777, 0o660, "mode is the socket file's permission");
      if (cc.status === 0 && canMount) {
        const src = join(dir, "client.c");
        writeFileSync(
          src,
          `#include <syslog.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  openlog("glibc-client", LOG_PID | LOG_NDELAY, LOG_LOCAL3);
  for (int i = 0; i < n; i++) syslog(LOG_WARNING, "glibc syslog(3) message %d", i);
  closelog();
  return 0;
}
`,
        );
        const bin = join(dir, "client");
        const built = spawnSync("cc", ["-O2", "-o", bin, src], { encoding: "utf8" });
        assert.equal(built.status, 0, built.stderr);
        // a private mount namespace in which /dev is this directory: /dev/log is the listener
        const ran = spawnSync(
          "unshare",
          ["-m", "sh", "-c", 'mount --bind "$1" /dev && exec "$2" "$3"', "sh", dir, bin, String(n)],
          { encoding: "utf8", timeout: 60_000 },
        );
        assert.equal(ran.status, 0, ran.stderr);
      } else {
        // no cc or no mount namespace: the bytes glibc's misc/syslog.c (__vsyslog_internal)
        // sends on its SOCK_DGRAM socket: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG", no NUL (it
        // adds one only for SOCK_STREAM), one blocking send per message
        t.diagnostic(`cc or unshare -m unavailable: glibc's datagrams sent by python3's socket module`);
        const r = pySend(
          sock,
          `import os,time\nfor i in range(${n}):\n  s.send(b"<156>%s glibc-client[%d]: glibc syslog(3) message %d" % (time.strftime("%b %e %H:%M:%S").encode(), os.getpid(), i))`,
        );
        assert.equal(r.status, 0, r.stderr);
      }
      await until("every message stored", async () => (await storedMessages(store, "local")).length === n);
    } finally {
      await stopped(d);
    }
    const got = await storedMessages(store, "local");
    assert.equal(got.length, n);
    for (const [i, m] of got.entries())
      assert.match(
        m,
        new RegExp(
          `^<156>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d glibc-client\\[\\d+\\]: glibc syslog\\(3\\) message ${i}$`,
        ),
      );
  });

  test("10,000 datagrams from a blocking sender under a rate limit: exactly once, in order, nothing dropped", async () => {
    // the rate limit (2500/s) holds the listener back well below the sender's speed: UDP would
    // drop (test/syslog-udp.test.ts); unix stops reading, and the blocking sender waits
    const { store, sock } = place();
    const total = 10_000;
    const d = await serve(
      store,
      unixListen(
        sock,
        "burst",
        '[[policy]]\nmatch = "burst"\nrate = "2500/s"\n[collector]\nstream_buffer = "64KiB"\n',
      ),
    );
    try {
      const r = pySend(sock, `for i in range(${total}):\n  s.send(b"<13>1 - h app - - - n=%05d" % i)`);
      assert.equal(r.status, 0, r.stderr);
      await until(
        "every datagram stored",
        async () => (await storedMessages(store, "burst")).length >= total,
        {
          ms: 60_000,
        },
      );
    } finally {
      await stopped(d);
    }
    const recs = await readAll(store, "burst", "syslog");
    const got = recs.filter((r) => r.kind === ".").map((r) => r.payload.toString());
    assert.equal(got.length, total);
    for (const [i, m] of got.entries())
      assert.equal(m, `<13>1 - h app - - - n=${String(i).padStart(5, "0")}`);
    assert.deepEqual(
      recs.filter((r) => r.kind === "!gap"),
      [],
    );
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());
    assert.deepEqual(
      events.filter((e) => /^event=unix-(dropped|refused)/.test(e)),
      [],
    );
  });

  test("an origin over its refusing quota: the sender waits, and goes on once SIGHUP raises the quota", async () => {
    // UDP drops here (test/syslog-udp.test.ts); unix stops reading until the policy lets the
    // origin in again, so the blocking sender waits in send() and nothing is lost
    const { dir, store, sock } = place();
    const policy = (quota: string) =>
      unixListen(
        sock,
        "q",
        `[[policy]]\nmatch = "q"\nquota = "${quota}"\non_quota = "refuse"\n[store]\nsegment_size = "64KiB"\n`,
      );
    const d = await serve(store, policy("64KiB"));
    const file = join(dir, readdirSync(dir).find((f) => f.startsWith("config-"))!);
    const total = 3000;
    const sender = spawn("python3", [
      "-c",
      `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.connect(sys.argv[1])\nfor i in range(${total}):\n  s.send(b"<13>1 - h app - - - n=%05d " % i + b"q"*100)`,
      sock,
    ]);
    const senderExit = new Promise<number | null>((r) => sender.once("exit", (code) => r(code)));
    let senderDone = false;
    void senderExit.then(() => {
      senderDone = true;
    });
    try {
      // held: what is stored stops growing while the sender has not finished (it waits)
      let last = -1;
      await until(
        "the listener holds",
        async () => {
          const n = (await storedMessages(store, "q")).length;
          const still = n === last && n > 0;
          last = n;
          return still;
        },
        { everyMs: 700, ms: 30_000 },
      );
      assert.ok(last < total, `held at ${last} of ${total}`);
      assert.equal(senderDone, false, "the sender waits in send()");
      writeFileSync(file, policy("10MiB"));
      d.proc.kill("SIGHUP");
      assert.equal(await senderExit, 0);
      await until("every datagram stored", async () => (await storedMessages(store, "q")).length === total, {
        ms: 30_000,
      });
    } finally {
      sender.kill();
      await stopped(d);
    }
    const recs = await readAll(store, "q", "syslog");
    const got = recs.filter((r) => r.kind === ".").map((r) => r.payload.toString());
    for (const [i, m] of got.entries())
      assert.ok(m.startsWith(`<13>1 - h app - - - n=${String(i).padStart(5, "0")} `));
    assert.deepEqual(
      recs.filter((r) => r.kind === "!gap"),
      [],
    );
  });

  test("serve stops while a refusing quota holds the sender: it ends, and what it had read is counted, not stored", async () => {
    const { store, sock } = place();
    const d = await serve(
      store,
      unixListen(
        sock,
        "q",
        '[[policy]]\nmatch = "q"\nquota = "64KiB"\non_quota = "refuse"\n[store]\nsegment_size = "64KiB"\n',
      ),
    );
    const sender = spawn("python3", [
      "-c",
      `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.connect(sys.argv[1])\nfor i in range(3000):\n  s.send(b"<13>1 - h app - - - n=%05d " % i + b"q"*100)`,
      sock,
    ]);
    sender.on("error", () => {});
    let held = -1;
    try {
      await until(
        "the listener holds",
        async () => {
          const n = (await storedMessages(store, "q")).length;
          const still = n === held && n > 0;
          held = n;
          return still;
        },
        { everyMs: 700, ms: 30_000 },
      );
    } finally {
      await stopped(d);
      sender.kill();
    }
    const recs = await readAll(store, "q", "syslog");
    // the datagram it held and what was in the pipe: dropped (a !gap), never stored past the quota
    assert.equal(recs.filter((r) => r.kind === ".").length, held);
    const gap = recs.find((r) => r.kind === "!gap")?.payload.toString() ?? "";
    assert.match(gap, /^dropped=[1-9]\d* reason=blocked /);
    assert.match(recs.at(-1)!.payload.toString(), new RegExp(`records=${held} truncated=0 reason=shutdown`));
  });

  test("kill -9 of serve: the helper goes with it, and a restarted serve binds the socket again", async () => {
    const { store, sock } = place();
    const d = await serve(store, unixListen(sock));
    await logger(sock, "before the kill");
    await until("stored", async () => (await storedMessages(store, "local")).length === 1);
    const exited = new Promise((r) => d.proc.once("exit", r));
    d.proc.kill("SIGKILL");
    await exited;
    // its stdin ended: the helper exits and removes its socket; no orphan keeps it
    await until("the helper gone", () => helpersOf(sock).length === 0);
    await assert.rejects(logger(sock, "nobody listens"));
    const again = await serve(store, unixListen(sock));
    try {
      assert.ok(lstatSync(sock).isSocket());
      await logger(sock, "after the restart");
      await until("stored again", async () => (await storedMessages(store, "local")).length === 2);
    } finally {
      await stopped(again);
    }
    const got = await storedMessages(store, "local");
    assert.match(got[0]!, /before the kill$/);
    assert.match(got[1]!, /after the restart$/);
  });

  test("SIGHUP adds a unix listener and removes it again (its socket goes)", async () => {
    const { dir, store, sock } = place();
    const d = await serve(store, "");
    const file = join(dir, readdirSync(dir).find((f) => f.startsWith("config-"))!);
    try {
      assert.equal(existsSync(sock), false);
      writeFileSync(file, unixListen(sock));
      d.proc.kill("SIGHUP");
      await until("the socket", () => existsSync(sock));
      await logger(sock, "through the added listener");
      await until("stored", async () => (await storedMessages(store, "local")).length === 1);
      writeFileSync(file, "");
      d.proc.kill("SIGHUP");
      await until("the socket gone", () => !existsSync(sock));
      await assert.rejects(logger(sock, "nobody listens"));
      assert.deepEqual(helpersOf(sock), []);
    } finally {
      await stopped(d);
    }
    const recs = await readAll(store, "local", "syslog");
    assert.match(recs.at(-1)!.payload.toString(), /records=1 truncated=0 reason=shutdown/);
  });
});

describe("hostile input on a unix datagram listener", { timeout: 120_000 }, () => {
  test("a 300 KiB datagram is cut at max_record and counted (!trunc), and the listener goes on", async () => {
    const { store, sock } = place();
    const d = await serve(store, unixListen(sock));
    try {
      const r = pySend(
        sock,
        // a unix datagram must fit the sender's send buffer: 300 KiB needs a larger one
        "s.setsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF,1<<20)\ns.send(b'<13>1 - h big - - - '+b'x'*(300*1024-20))\ns.send(b'<13>1 - h app - - - after')",
      );
      assert.equal(r.status, 0, r.stderr);
      await until("both stored", async () => (await storedMessages(store, "local")).length === 2);
    } finally {
      await stopped(d);
    }
    const recs = await readAll(store, "local", "syslog");
    const data = recs.filter((r) => r.kind === ".");
    assert.equal(data[0]!.payload.length, 64 * 1024, "cut at max_record (64 KiB)");
    assert.ok(data[0]!.payload.toString().startsWith("<13>1 - h big - - - xxx"));
    assert.equal(data[1]!.payload.toString(), "<13>1 - h app - - - after");
    const trunc = recs.find((r) => r.kind === "!trunc")!.payload.toString();
    assert.match(trunc, new RegExp(`kept=65536 received=${300 * 1024} `));
    assert.match(recs.at(-1)!.payload.toString(), /records=2 truncated=1 reason=shutdown/);
  });

  test("NUL and control bytes in a datagram are stored escaped; the payload is exact", async () => {
    const { store, sock } = place();
    const d = await serve(store, unixListen(sock));
    const sent = Buffer.from("<13>1 - h app - - - a\0b\x1b[31mc\x07d\r\ne\xff\x9b1;2H\0", "latin1");
    try {
      const r = pySend(sock, `s.send(bytes.fromhex("${sent.toString("hex")}"))`);
      assert.equal(r.status, 0, r.stderr);
      await until("stored", async () => (await storedMessages(store, "local")).length === 1);
    } finally {
      await stopped(d);
    }
    const recs = await readAll(store, "local", "syslog");
    assert.deepEqual(recs.find((r) => r.kind === ".")!.payload, sent);
    const dir = join(store, "origins", "local", "syslog");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".log"))) {
      const raw = readFileSync(join(dir, f));
      for (const b of [0x00, 0x1b, 0x07, 0x0d, 0x9b])
        assert.equal(raw.indexOf(b), -1, `byte 0x${b.toString(16)} stored raw in ${f}`);
    }
  });

  test("a regular file, a symbolic link or a socket in use at the address: refused, nothing removed", async () => {
    const { dir, store, sock } = place();
    writeFileSync(sock, "precious\n");
    await assert.rejects(
      serve(store, unixListen(sock)),
      /listen #1: address \S+\/log exists and is not a socket \(serve never removes such a file\); remove it or choose another path\./,
    );
    assert.equal(readFileSync(sock, "utf8"), "precious\n", "the file is left intact");
    const link = join(dir, "link");
    symlinkSync(sock, link);
    await assert.rejects(
      serve(store, unixListen(link)),
      /listen #1: address \S+\/link is a symbolic link, which serve never binds through/,
    );
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(sock, "utf8"), "precious\n");
    // a socket another serve is bound to is in use, not a stale one to replace
    const inUse = join(dir, "inuse");
    const first = await serve(join(dir, "store2"), unixListen(inUse));
    try {
      await assert.rejects(
        serve(store, unixListen(inUse)),
        /listen #1: address \S+\/inuse cannot be listened on \(it is in use: another program is bound to it\)\./,
      );
      await logger(inUse, "the first serve still has it");
      await until(
        "stored by the first",
        async () => (await storedMessages(join(dir, "store2"), "local")).length === 1,
      );
    } finally {
      await stopped(first);
    }
  });

  test("no python3: serve refuses with one sentence naming the table and key", async () => {
    const { store, sock } = place();
    await assert.rejects(
      serve(store, unixListen(sock), { PATH: "/nonexistent" }),
      /listen #1: transport = "unix" needs python3 to bind its socket, and cannot run python3: spawn python3 ENOENT; install python3 or use transport = "udp"\./,
    );
    assert.equal(existsSync(sock), false);
  });

  test("the helper killed: serve goes on, records event=unix-helper, and binds the socket again", async () => {
    const { store, sock } = place();
    const d = await serve(store, unixListen(sock));
    try {
      const [pid] = helpersOf(sock);
      assert.ok(pid);
      process.kill(pid, "SIGKILL");
      await until("an event", async () =>
        (await readAll(store, "_logward", "events").catch(() => [])).some((r) =>
          /^event=unix-helper .*ended=SIGKILL/.test(r.payload.toString()),
        ),
      );
      await until("a new helper", () => helpersOf(sock).length === 1 && helpersOf(sock)[0] !== pid);
      await until("the socket again", () => existsSync(sock) && lstatSync(sock).isSocket());
      // the new helper replaced the stale socket; a sender reaches it
      await until(
        "a sender reaches it",
        async () => {
          await logger(sock, "after the helper died").catch(() => {});
          return (await storedMessages(store, "local")).length > 0;
        },
        { everyMs: 200 },
      );
    } finally {
      await stopped(d);
    }
    assert.match(d.out(), /the socket helper ended \(SIGKILL\); starting it again in 1000 ms/);
  });

  test("the helper's frames: a length over the maximum is refused before buffering, any chunking gives the same frames", () => {
    const frame = (body: Buffer, received = body.length) => {
      const h = Buffer.alloc(8);
      h.writeUInt32BE(body.length, 0);
      h.writeUInt32BE(received, 4);
      return Buffer.concat([h, body]);
    };
    const bodies = [Buffer.from("<13>one"), Buffer.alloc(0), Buffer.from("x".repeat(100))];
    const wire = Buffer.concat([frame(bodies[0]!), frame(bodies[1]!), frame(bodies[2]!, 5000)]);
    for (const size of [1, 2, 3, 7, 8, 9, 50, wire.length]) {
      const r = new FrameReader(100);
      const got: [string, number][] = [];
      for (let i = 0; i < wire.length; i += size) {
        const chunk = wire.subarray(i, i + size);
        for (let at = 0; at < chunk.length; ) {
          const out = r.push(chunk, at);
          at = out.next;
          if (out.frame) got.push([out.frame.toString(), out.received]);
        }
      }
      assert.deepEqual(
        got,
        [
          ["<13>one", 7],
          ["", 0],
          ["x".repeat(100), 5000],
        ],
        `chunks of ${size}`,
      );
    }
    // declared lengths past the maximum, or inconsistent: refused at the header
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(0xffffffff, 0);
    bad.writeUInt32BE(0xffffffff, 4);
    assert.throws(() => new FrameReader(100).push(bad, 0), /bad frame/);
    bad.writeUInt32BE(50, 0);
    bad.writeUInt32BE(60, 4); // cut, yet shorter than the maximum
    assert.throws(() => new FrameReader(100).push(bad, 0), /bad frame/);
  });
});
