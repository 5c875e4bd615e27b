import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { encodeGap, encodeHello, encodeRecord } from "../src/wire/agent.ts";
import { type Daemon, rawSession, serve } from "./helpers/daemon.ts";
import { agentSession, journalEntry, journalSession } from "./helpers/senders.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const WORK = { QREXEC_REMOTE_DOMAIN: "work" };
const rec = (n: number) => Buffer.from(`rec ${n} ${"x".repeat(n % 50)}`);

/** The numbers in the payloads of a stream's sender records, in stored order. */
async function numbers(store: string, origin: string, stream: string, re: RegExp): Promise<number[]> {
  const recs = await readAll(store, origin, stream);
  return recs
    .filter((r) => r.kind === ".")
    .map((r) => {
      const m = re.exec(r.payload.toString("latin1"));
      if (!m) throw new Error(`unexpected payload ${r.payload.toString("latin1").slice(0, 80)}`);
      return Number(m[1]);
    });
}

const range = (n: number) => Array.from({ length: n }, (_, k) => k + 1);

describe("resumable formats", { timeout: 240_000 }, () => {
  test("agent: welcome, acks, and a second session resumes after the durable seq", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const first = await agentSession(store, WORK, "app", "spoolA", 500, rec);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.welcome, 0);
      assert.equal(first.acked, 500, "everything is acknowledged before the end");
      assert.deepEqual(first.end, { ok: true, records: 500, message: "durable" });
      const second = await agentSession(store, WORK, "app", "spoolA", 800, rec);
      assert.equal(second.welcome, 500);
      assert.equal(second.acked, 800);
      // a new spool (the sender lost its state) starts its own numbering
      const other = await agentSession(store, WORK, "app", "spoolB", 3, (n) => Buffer.from(`b ${n}`));
      assert.equal(other.welcome, 0);
      const recs = await readAll(store, "work", "app");
      const data = recs.filter((r) => r.kind === ".");
      assert.deepEqual(
        data.slice(0, 800).map((r) => r.ref),
        range(800).map((n) => `spoolA:${n}`),
      );
      assert.deepEqual(
        data.slice(800).map((r) => r.payload.toString()),
        ["b 1", "b 2", "b 3"],
      );
    } finally {
      await d.stop();
    }
  });

  test("agent: duplicates are skipped, jumps and sender gaps are recorded, a wrong stream is refused", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const sock = join(store, "run", "ingest.sock");
      const header = "logward-relay 1 agent work app\n";
      const bytes = Buffer.concat([
        Buffer.from(header),
        encodeHello({ stream: "app", spool: "s" }),
        encodeRecord(1, Buffer.from("one")),
        encodeRecord(1, Buffer.from("one again")),
        encodeRecord(2, Buffer.from("two")),
        encodeGap({ seq: 4, dropped: 2, firstUs: 1_764_000_000_000_000, lastUs: 1_764_000_001_000_000 }),
        encodeRecord(6, Buffer.from("six")),
        // 6 to 8 dropped at the sender after 6 had already arrived: two are lost, not three
        encodeGap({ seq: 8, dropped: 3, firstUs: 1_764_000_002_000_000, lastUs: 1_764_000_003_000_000 }),
      ]);
      await rawSession(sock, bytes).done;
      const recs = await readAll(store, "work", "app");
      const shown = recs.map((r) => `${r.kind}${r.ref ? `@${r.ref}` : ""} ${r.payload.toString()}`);
      assert.deepEqual(shown.slice(1, -1), [
        ".@s:1 one",
        ".@s:2 two",
        `!gap@s:4 2 records dropped at the sender between 2025-11-24T16:00:00.000000Z and 2025-11-24T16:00:01.000000Z (sender's clock) session=${/session=(\w+)/.exec(shown[0]!)![1]}`,
        `!gap the sender skipped seq 5 to 5 (1 record) without a gap notice session=${/session=(\w+)/.exec(shown[0]!)![1]}`,
        ".@s:6 six",
        `!gap@s:8 2 records dropped at the sender between 2025-11-24T16:00:02.000000Z and 2025-11-24T16:00:03.000000Z (sender's clock) session=${/session=(\w+)/.exec(shown[0]!)![1]}`,
      ]);
      assert.match(shown.at(-1)!, /duplicates=1 skipped_seqs=1 reason=eof/);

      const wrong = await rawSession(
        sock,
        Buffer.concat([
          Buffer.from(header),
          encodeHello({ stream: "other", spool: "s" }),
          encodeRecord(7, Buffer.from("x")),
        ]),
      ).done;
      assert.match(wrong.toString("latin1"), /names stream 'other' but the channel is for stream 'app'/);
    } finally {
      await d.stop();
    }
  });

  test("agent: a reconnecting sender replaces its old session, and resumes after what that one stored", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const sock = join(store, "run", "ingest.sock");
      const header = Buffer.from("logward-relay 1 agent work app\n");
      // the old session: sends 1..3 and then hangs, never closing
      const old = rawSession(
        sock,
        Buffer.concat([
          header,
          encodeHello({ stream: "app", spool: "s" }),
          ...[1, 2, 3].map((n) => encodeRecord(n, rec(n))),
        ]),
        true,
      );
      await new Promise((r) => setTimeout(r, 300));
      const again = await agentSession(store, WORK, "app", "s", 5, rec);
      assert.equal(again.welcome, 3, "the new session starts after what the old one stored");
      assert.equal(again.acked, 5);
      const oldReply = await old.done;
      assert.match(oldReply.toString("latin1"), /replaced by a new session/);
      assert.deepEqual(await numbers(store, "work", "app", /^rec (\d+)/), range(5));
    } finally {
      await d.stop();
    }
  });

  test("journal: entries stored whole with their cursors; resume answers only when asked", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const first = await journalSession(store, WORK, "journal", 50, journalEntry);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.cursor, "");
      const second = await journalSession(store, WORK, "journal", 80, journalEntry);
      assert.equal(second.cursor, "s=4b3a;i=50");
      const recs = (await readAll(store, "work", "journal")).filter((r) => r.kind === ".");
      assert.equal(recs.length, 80);
      assert.deepEqual(
        recs[6]!.payload,
        journalEntry(7).subarray(0, -1),
        "the entry, byte for byte, without its blank line",
      );
      assert.equal(recs[6]!.ref, "s=4b3a;i=7");

      // through the socket-service descriptor, without asking: nothing is written back
      const viaSocket = rawSession(
        join(store, "run", "ingest.sock"),
        Buffer.concat([Buffer.from("logward-relay 1 journal personal main\n"), journalEntry(1)]),
      );
      const reply = await viaSocket.done;
      assert.doesNotMatch(reply.toString("latin1"), /cursor=/);
      assert.equal((await readAll(store, "personal", "main")).filter((r) => r.kind === ".").length, 1);
    } finally {
      await d.stop();
    }
  });

  test("journal: a truncated entry and a binary field with a wrong length are accounted, not stored", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const sock = join(store, "run", "ingest.sock");
      const cut = journalEntry(2).subarray(0, 40);
      await rawSession(
        sock,
        Buffer.concat([Buffer.from("logward-relay 1 journal work j\n"), journalEntry(1), cut]),
      ).done;
      let recs = await readAll(store, "work", "j");
      assert.deepEqual(
        recs.filter((r) => r.kind === ".").map((r) => r.ref),
        ["s=4b3a;i=1"],
      );
      assert.match(recs.at(-1)!.payload.toString(), /records=1 .*incomplete_bytes=40 reason=eof/);

      const badLen = Buffer.from("BLOB\n\x02\0\0\0\0\0\0\0abc\n\n", "latin1");
      const reply = await rawSession(
        sock,
        Buffer.concat([Buffer.from("logward-relay 1 journal work j\n"), journalEntry(3), badLen]),
      ).done;
      assert.match(reply.toString("latin1"), /protocol error: binary field 'BLOB'/);
      recs = await readAll(store, "work", "j");
      assert.deepEqual(
        recs.filter((r) => r.kind === ".").map((r) => r.ref),
        ["s=4b3a;i=1", "s=4b3a;i=3"],
      );
    } finally {
      await d.stop();
    }
  });
});

/**
 * Keeps a sender going while the daemon is killed with SIGKILL at random moments and restarted,
 * `kills` times. Each session is asked to deliver records up to a total that grows by `step`
 * whenever a session succeeds, so data flows for as long as the kills go on. Returns the final
 * total and the number of kills.
 */
async function underKills(
  store: string,
  kills: number,
  step: number,
  session: (total: number) => Promise<{ code: number | null; stderr: string }>,
): Promise<{ total: number; killed: number }> {
  let d: Daemon = await serve(store);
  let killed = 0;
  let stop = false;
  const killer = (async () => {
    while (killed < kills && !stop) {
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 250));
      d.proc.kill("SIGKILL");
      await new Promise((r) => d.proc.once("exit", r));
      killed++;
      d = await serve(store);
    }
  })();
  let total = step;
  let killerError: unknown = null;
  killer.catch((err) => {
    killerError = err;
  });
  try {
    for (let attempt = 0; attempt < 1000 && killerError === null; attempt++) {
      const r = await session(total);
      if (r.code === 0) {
        if (killed >= kills) break;
        total += step;
      } else {
        assert.match(r.stderr, /collector|durable/, "a failed session says why");
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  } finally {
    stop = true;
    await killer.catch(() => {});
    await d.stop();
  }
  if (killerError !== null) throw killerError;
  return { total, killed };
}

describe("kill -9 of the daemon during resumable streams", { timeout: 300_000 }, () => {
  test("agent: every record stored exactly once, in order", async () => {
    const store = tempDir();
    let sessions = 0;
    const { total, killed } = await underKills(store, 15, 20_000, (n) => {
      sessions++;
      return agentSession(store, WORK, "app", "spool1", n, rec);
    });
    assert.equal(killed, 15);
    assert.ok(sessions > 15, `${sessions} sessions`);
    assert.deepEqual(await numbers(store, "work", "app", /^rec (\d+)/), range(total));
  });

  test("journal: every entry stored exactly once, in order", async () => {
    const store = tempDir();
    const { total, killed } = await underKills(store, 15, 10_000, (n) =>
      journalSession(store, WORK, "journal", n, journalEntry),
    );
    assert.equal(killed, 15);
    assert.deepEqual(await numbers(store, "work", "journal", /MESSAGE=entry (\d+)\n/), range(total));
  });
});
