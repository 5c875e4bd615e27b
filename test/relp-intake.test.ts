// The RELP intake (src/collector/relp-intake.ts, relp-tail.ts) in a real Session over TCP: the
// open answer, answers only once records are fsync'd, close and serverclose, protocol errors,
// the bound on unanswered frames, and the resend check that stores every message once when
// omrelp resends what it had no answer for (after a lost connection or a collector restart).

import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { describe, test } from "node:test";
import type { IntakeHost, SessionResult } from "../src/collector/intake.ts";
import { RELP_REF_PREFIX, RelpIntake, relpDigest } from "../src/collector/relp-intake.ts";
import { relpIntakeFor } from "../src/collector/relp-tail.ts";
import { Session } from "../src/collector/session.ts";
import { Store } from "../src/store/store.ts";
import type { StreamWriter } from "../src/store/stream-writer.ts";
import { encodeRelpFrame, RelpParser } from "../src/wire/relp.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const ORIGIN = "peer";
const STREAM = "syslog";
const OFFERS = "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";

type Frame = { txnr: number; command: string; data: string };

/** A collector with one TCP port whose connections are RELP sessions on peer/syslog. */
class Harness {
  readonly root: string;
  store!: Store;
  writer!: StreamWriter;
  server!: Server;
  port = 0;
  readonly results: SessionResult[] = [];
  /** While set, the intake's durability waits are held back (answers must wait too). */
  gate: Promise<void> | null = null;

  constructor(root: string) {
    this.root = root;
  }

  async start(): Promise<this> {
    this.store = await Store.open(this.root, { compress: false });
    this.writer = await this.store.stream(ORIGIN, STREAM);
    const realWait = this.writer.waitDurable.bind(this.writer);
    this.writer.waitDurable = (seq?: number) => {
      const gate = this.gate;
      return gate ? gate.then(() => realWait(seq)) : realWait(seq);
    };
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  private accept(socket: Socket): void {
    const session = new Session(
      socket,
      this.writer,
      {
        origin: ORIGIN,
        stream: STREAM,
        format: "syslog",
        transport: "tcp",
        maxRecordBytes: 64 * 1024,
        resumeRef: null,
        reply: (b) => {
          if (!socket.destroyed && !socket.writableEnded) socket.write(b);
        },
        intake: relpIntakeFor(this.root, "logward,test"),
      },
      (_s, r) => {
        this.results.push(r);
        socket.end(() => socket.destroy());
      },
    );
    session.start(Buffer.alloc(0), false);
  }

  /** The collector stops without a word (what kill -9 leaves: what was written). */
  async crash(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
    await this.store.close();
  }

  async records(): Promise<string[]> {
    return (await readAll(this.root, ORIGIN, STREAM))
      .filter((r) => r.kind === ".")
      .map((r) => r.payload.toString("latin1"));
  }

  async closes(): Promise<string[]> {
    return (await readAll(this.root, ORIGIN, STREAM))
      .filter((r) => r.kind === "!close")
      .map((r) => r.payload.toString("latin1"));
  }
}

/** A RELP client that sends what it is told and collects every frame the server sends. */
class Client {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  private txnr = 1;
  ended = false;
  private readonly changed: (() => void)[] = [];

  constructor(socket: Socket) {
    this.socket = socket;
    const parser = new RelpParser(1 << 20, {
      frame: (txnr, command, data) => {
        this.frames.push({ txnr, command, data: data.toString("latin1") });
        this.poke();
      },
    });
    socket.on("data", (c: Buffer) => parser.push(c));
    socket.on("close", () => {
      this.ended = true;
      this.poke();
    });
    socket.on("error", () => {});
  }

  static async connect(port: number): Promise<Client> {
    const { connect } = await import("node:net");
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((r, j) => socket.once("connect", r).once("error", j));
    return new Client(socket);
  }

  private poke(): void {
    for (const f of this.changed.splice(0)) f();
  }

  async until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        this.changed.push(r);
        setTimeout(r, 50);
      });
    }
  }

  send(command: string, data = ""): number {
    const t = this.txnr++;
    this.socket.write(encodeRelpFrame(t, command, Buffer.from(data, "latin1")));
    return t;
  }

  async open(): Promise<void> {
    const t = this.send("open", OFFERS);
    await this.until("the open answer", () => this.frames.some((f) => f.txnr === t));
  }

  answered(txnr: number): Frame | undefined {
    return this.frames.find((f) => f.txnr === txnr && f.command === "rsp");
  }

  /** Sends messages and waits until each is answered. */
  async sendAll(msgs: readonly string[]): Promise<number[]> {
    const ts = msgs.map((m) => this.send("syslog", m));
    await this.until("the answers", () => ts.every((t) => this.answered(t)));
    return ts;
  }

  /** The connection breaks: whatever the server answered is lost with it. */
  drop(): void {
    this.socket.destroy();
  }
}

const msgs = (prefix: string, from: number, to: number) =>
  Array.from(
    { length: to - from + 1 },
    (_, k) => `<13>1 2026-01-01T00:00:00Z h app - - - ${prefix}${from + k}`,
  );

/** Waits until the stream's files hold `n` sender records. */
async function storedCount(h: Harness, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await h.records()).length < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} records, have ${(await h.records()).length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("RELP intake in a session", () => {
  test("open, syslog frames answered only once durable, close answered then serverclose", async () => {
    const h = await new Harness(tempDir("logward-relp-")).start();
    try {
      const c = await Client.connect(h.port);
      await c.open();
      const open = c.frames[0]!;
      assert.equal(open.command, "rsp");
      assert.equal(open.data, "200 OK\nrelp_version=0\nrelp_software=logward,test\ncommands=syslog");

      // the store's durability is held back: nothing may be answered yet
      let release!: () => void;
      h.gate = new Promise<void>((r) => {
        release = r;
      });
      const sent = ["<13>1 - h a - - - first", "second\nwith an LF", "third \x00 NUL and \xff", ""];
      const ts = sent.map((m) => c.send("syslog", m));
      await storedCount(h, sent.length);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(c.frames.length, 1, "no rsp before the records are durable");
      h.gate = null;
      release();
      await c.until("the answers", () => ts.every((t) => c.answered(t)));
      // in txnr order, each `200 OK`
      const rsps = c.frames.slice(1);
      assert.deepEqual(
        rsps.map((f) => [f.txnr, f.data]),
        ts.map((t) => [t, "200 OK"]),
      );
      const closeT = c.send("close");
      await c.until("the close answer and the end", () => c.ended);
      const tail = c.frames.slice(-2);
      assert.deepEqual(tail, [
        { txnr: closeT, command: "rsp", data: "200 OK" },
        { txnr: 0, command: "serverclose", data: "" },
      ]);

      const all = await readAll(h.root, ORIGIN, STREAM);
      const data = all.filter((r) => r.kind === ".");
      assert.deepEqual(
        data.map((r) => r.payload.toString("latin1")),
        sent,
        "each frame's data exactly as sent",
      );
      assert.ok(data.every((r) => r.ref?.startsWith(RELP_REF_PREFIX)));
      const close = (await h.closes())[0]!;
      assert.match(close, /records=4 /);
      assert.match(close, /relp_frames=4 acked=4 relp_chain=[0-9a-f]{8} /);
      assert.match(close, /relp_close=yes/);
      assert.match(close, /reason=eof/);
    } finally {
      await h.crash();
    }
  });

  test("garbage ends the session as a protocol error; the frames before it are kept", async () => {
    const h = await new Harness(tempDir("logward-relp-")).start();
    try {
      const c = await Client.connect(h.port);
      await c.open();
      await c.sendAll(["kept"]);
      c.socket.write("2x syslog 3 abc\n");
      await c.until("the end", () => c.ended);
      assert.deepEqual(await h.records(), ["kept"]);
      assert.match((await h.closes())[0]!, /reason="protocol error: bad RELP frame: byte 0x78/);
      assert.equal(c.frames.at(-1)?.command, "serverclose");
    } finally {
      await h.crash();
    }
  });

  test("a session must begin with open; unknown commands are answered 500", async () => {
    const h = await new Harness(tempDir("logward-relp-")).start();
    try {
      const c = await Client.connect(h.port);
      c.send("syslog", "too early");
      await c.until("the end", () => c.ended);
      assert.deepEqual(await h.records(), []);
      assert.match((await h.closes())[0]!, /begins with open, not 'syslog'/);

      const d = await Client.connect(h.port);
      await d.open();
      const t = d.send("starttls");
      await d.sendAll(["after"]);
      assert.equal(d.answered(t)?.data, "500 command 'starttls' not supported");
      d.send("close");
      await d.until("the end", () => d.ended);
      assert.deepEqual(await h.records(), ["after"]);
    } finally {
      await h.crash();
    }
  });

  test("a resend after a collector restart is stored once, and the session continues its chain", async () => {
    const root = tempDir("logward-relp-");
    let h = await new Harness(root).start();
    const c = await Client.connect(h.port);
    await c.open();
    await c.sendAll(msgs("m", 1, 10));
    // the answers to m6..m10 never reached omrelp: it keeps them and resends them
    c.drop();
    await h.crash();

    h = await new Harness(root).start();
    try {
      const d = await Client.connect(h.port);
      await d.open();
      const ts = await d.sendAll([...msgs("m", 6, 10), ...msgs("m", 11, 15)]);
      assert.equal(ts.length, 10, "every resent frame is answered");
      d.send("close");
      await d.until("the end", () => d.ended);
      assert.deepEqual(await h.records(), msgs("m", 1, 15), "each message once, in order");
      const closes = await h.closes();
      const second = closes.at(-1)!;
      assert.match(second, /relp_frames=10 acked=10 /);
      assert.match(second, /duplicates=5/);
      // one chain across both sessions
      const tags = new Set(
        (await readAll(root, ORIGIN, STREAM)).filter((r) => r.kind === ".").map((r) => r.ref),
      );
      assert.equal(tags.size, 1);
    } finally {
      await h.crash();
    }
  });

  test("a sender that reconnects twice before an answer gets through still has each message once", async () => {
    const root = tempDir("logward-relp-");
    const h = await new Harness(root).start();
    try {
      const a = await Client.connect(h.port);
      await a.open();
      await a.sendAll(msgs("m", 1, 5));
      a.drop();
      const b = await Client.connect(h.port);
      await b.open();
      await b.sendAll(msgs("m", 1, 8)); // all five resent (none answered), three new
      b.drop();
      const c = await Client.connect(h.port);
      await c.open();
      await c.sendAll(msgs("m", 1, 9));
      c.send("close");
      await c.until("the end", () => c.ended);
      assert.deepEqual(await h.records(), msgs("m", 1, 9));
    } finally {
      await h.crash();
    }
  });

  test("two senders interleaved in one stream: each resend is matched with its own chain", async () => {
    const root = tempDir("logward-relp-");
    const h = await new Harness(root).start();
    try {
      const a = await Client.connect(h.port);
      const b = await Client.connect(h.port);
      await a.open();
      await b.open();
      for (let k = 1; k <= 4; k++) {
        await a.sendAll(msgs("a", k, k));
        await b.sendAll(msgs("b", k, k));
      }
      a.drop();
      b.drop();
      const a2 = await Client.connect(h.port);
      await a2.open();
      await a2.sendAll(msgs("a", 3, 6));
      const b2 = await Client.connect(h.port);
      await b2.open();
      await b2.sendAll(msgs("b", 2, 5));
      for (const c of [a2, b2]) {
        c.send("close");
        await c.until("the end", () => c.ended);
      }
      const got = await h.records();
      assert.deepEqual(
        got.filter((m) => / a\d+$/.test(m)),
        msgs("a", 1, 6),
      );
      assert.deepEqual(
        got.filter((m) => / b\d+$/.test(m)),
        msgs("b", 1, 5),
      );
    } finally {
      await h.crash();
    }
  });

  test("a chain closed with `close` had nothing unanswered: the same bytes again are a new message", async () => {
    const root = tempDir("logward-relp-");
    const h = await new Harness(root).start();
    try {
      const a = await Client.connect(h.port);
      await a.open();
      await a.sendAll(["same", "again"]);
      a.send("close");
      await a.until("the end", () => a.ended);
      const b = await Client.connect(h.port);
      await b.open();
      await b.sendAll(["again", "new"]);
      b.send("close");
      await b.until("the end", () => b.ended);
      assert.deepEqual(await h.records(), ["same", "again", "again", "new"]);
    } finally {
      await h.crash();
    }
  });

  test("first frames that match a chain's middle, not its end, are new messages", async () => {
    const root = tempDir("logward-relp-");
    const h = await new Harness(root).start();
    try {
      const a = await Client.connect(h.port);
      await a.open();
      await a.sendAll(["x", "y", "z"]);
      a.drop();
      const b = await Client.connect(h.port);
      await b.open();
      await b.sendAll(["y", "q"]);
      b.send("close");
      await b.until("the end", () => b.ended);
      assert.deepEqual(await h.records(), ["x", "y", "z", "y", "q"]);
    } finally {
      await h.crash();
    }
  });
});

/** A host whose durability waits resolve only when the test says so. */
function fakeHost() {
  const replies: string[] = [];
  const stored: string[] = [];
  let release: (() => void)[] = [];
  const host: IntakeHost = {
    id: "test",
    origin: ORIGIN,
    stream: STREAM,
    maxRecordBytes: 1024,
    resumeRef: null,
    append() {},
    appendRecord(p: Buffer) {
      stored.push(p.toString("latin1"));
    },
    truncated() {},
    unterminated() {},
    note() {},
    reply(b: Buffer) {
      replies.push(b.toString("latin1"));
    },
    whenDurable: () => new Promise<void>((r) => release.push(r)),
    end() {},
  };
  const durable = async () => {
    const rs = release;
    release = [];
    for (const r of rs) r();
    await new Promise((r) => setImmediate(r));
  };
  return { host, replies, stored, durable };
}

describe("RELP intake bounds", () => {
  test("at most maxUnacked frames wait for an answer: then the intake is full (stop reading)", async () => {
    const { host, replies, durable } = fakeHost();
    const intake = new RelpIntake(host, { maxUnacked: 8 });
    intake.push(encodeRelpFrame(1, "open", OFFERS));
    const frames = Buffer.concat(
      Array.from({ length: 8 }, (_, k) => encodeRelpFrame(k + 2, "syslog", `m${k}`)),
    );
    intake.push(frames);
    assert.equal(intake.full, true);
    let ready = false;
    void intake.whenReady().then(() => {
      ready = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(ready, false);
    assert.equal(replies.length, 1, "only the open answer");
    await durable();
    assert.equal(intake.full, false);
    assert.equal(ready, true);
    assert.equal(replies.length, 2);
    assert.equal(replies[1], Array.from({ length: 8 }, (_, k) => `${k + 2} rsp 6 200 OK\n`).join(""));
  });

  test("frames wait (held, the intake full) while the stream's chains are read", async () => {
    const { host, stored } = fakeHost();
    let give!: (c: Map<string, string[]>) => void;
    const intake = new RelpIntake(host, {
      recentChains: () =>
        new Promise((r) => {
          give = r;
        }),
    });
    intake.push(Buffer.concat([encodeRelpFrame(1, "open", OFFERS), encodeRelpFrame(2, "syslog", "old")]));
    intake.push(encodeRelpFrame(3, "syslog", "new"));
    assert.equal(intake.full, true);
    assert.deepEqual(stored, []);
    give(new Map([["0badcafe", [relpDigest(Buffer.from("older")), relpDigest(Buffer.from("old"))]]]));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(stored, ["new"], "'old' was the chain's last record: acknowledged, not stored again");
    assert.equal(intake.duplicates, 1);
    assert.match(intake.closeFields(), /relp_chain=0badcafe/);
  });
});
