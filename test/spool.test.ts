// The sender's spool in-process: recovery after torn or damaged writes, seq numbering that never
// reuses a number, positions committed with records, and the reader's view.
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Spool } from "../src/agent/spool.ts";
import { SpoolReader } from "../src/agent/spool-reader.ts";
import { encodeHello } from "../src/wire/agent.ts";
import { AgentDecoder } from "../src/wire/agent-decoder.ts";
import { tempDir } from "./helpers/tmp.ts";

const opts = { maxBytes: 64 * 1024 * 1024, policy: "drop-oldest" as const };

/** Decodes the frames a reader hands out into [seq, text] and gaps. */
async function readAllFrames(spool: Spool, after: number): Promise<(string | number)[][]> {
  const out: (string | number)[][] = [];
  const d = new AgentDecoder(1 << 20, {
    hello: () => {},
    records: (buf, offs, seqs, n) => {
      for (let k = 0; k < n; k++)
        out.push([seqs[k]!, buf.toString("latin1", offs[2 * k]!, offs[2 * k + 1]!)]);
    },
    truncated: () => {},
    unterminated: (seq, kept) => out.push([seq, kept.toString("latin1"), "unterminated"]),
    gap: (g) => out.push(["gap", g.seq, g.dropped]),
  });
  d.push(encodeHello({ stream: "a", spool: "b" }));
  const r = new SpoolReader(spool, after);
  const frames = await Promise.race([r.next(), new Promise<null>((res) => setTimeout(() => res(null), 200))]);
  await r.close();
  for (const f of frames ?? []) d.push(f);
  return out;
}

describe("spool", () => {
  test("records and positions survive a reopen; seqs continue", async () => {
    const dir = tempDir();
    const s = await Spool.open(dir, opts);
    for (let i = 1; i <= 100; i++) s.append(Buffer.from(`r${i}`));
    s.setPosition("file:/x", { ino: 7, offset: 1234 });
    await s.close();
    const t = await Spool.open(dir, opts);
    assert.equal(t.lastSeq, 100);
    assert.deepEqual(t.position("file:/x"), { ino: 7, offset: 1234 });
    const frames = await readAllFrames(t, 98);
    assert.deepEqual(frames, [
      [99, "r99"],
      [100, "r100"],
    ]);
    assert.equal(t.id, s.id);
    await t.close();
  });

  test("a record no LF followed survives a reopen and goes out as a U frame", async () => {
    const dir = tempDir();
    const s = await Spool.open(dir, opts);
    s.append(Buffer.from("whole"));
    s.append(Buffer.from("last"), undefined, true);
    await s.close();
    const t = await Spool.open(dir, opts);
    assert.equal(t.lastSeq, 2);
    assert.deepEqual(await readAllFrames(t, 0), [
      [1, "whole"],
      [2, "last", "unterminated"],
    ]);
    await t.close();
  });

  test("a torn or damaged tail is cut at the last whole commit", async () => {
    const dir = tempDir();
    const s = await Spool.open(dir, opts);
    for (let i = 1; i <= 10; i++) {
      s.append(Buffer.from(`record ${i}`));
      s.setPosition("file:/f", i);
      await s.flush(); // one commit each: the record, then its checkpoint
    }
    await s.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith(".spool"))!);
    const size = statSync(seg).size;
    // the last commit is record 10 (9 + 16 + 9 bytes) and its checkpoint {"file:/f":10} (9 + 14):
    // a cut anywhere inside it loses that commit and nothing else
    for (let cut = size - 56; cut < size; cut += 3) {
      const copy = tempDir();
      writeFileSync(join(copy, "state.json"), readFileSync(join(dir, "state.json")));
      writeFileSync(join(copy, "00000000000000000001.spool"), readFileSync(seg).subarray(0, cut));
      const t = await Spool.open(copy, opts);
      assert.equal(t.lastSeq, 9, `cut at ${cut}`);
      // record 10 whole but its checkpoint torn: the source must read line 10 again, and it
      // will get seq 10 again, not a second copy under seq 11
      assert.equal(t.position("file:/f"), 9, `cut at ${cut}`);
      t.append(Buffer.from("after"));
      await t.flush();
      assert.deepEqual(
        (await readAllFrames(t, 8)).map((f) => f[1]),
        ["record 9", "after"],
      );
      await t.close();
    }
    // a flipped byte inside an entry fails its CRC: the spool ends before it
    const bytes = readFileSync(seg);
    bytes[size - 3] = bytes[size - 3]! ^ 0xff;
    writeFileSync(seg, bytes);
    appendFileSync(seg, Buffer.alloc(100)); // and zeros after it, as after a crash
    const t = await Spool.open(dir, opts);
    assert.equal(t.lastSeq, 9);
    assert.equal(statSync(seg).size, size - 57);
    await t.close();
  });

  test("acknowledged segments go, and the numbering never restarts below what was sent", async () => {
    const dir = tempDir();
    const s = await Spool.open(dir, { maxBytes: 8 * 1024 * 1024, policy: "drop-oldest" });
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 2000; i++) s.append(Buffer.alloc(100, 0x61));
      await s.flush();
    }
    assert.ok(readdirSync(dir).filter((f) => f.endsWith(".spool")).length > 2);
    await s.ack(s.lastSeq);
    await s.flush();
    assert.equal(
      readdirSync(dir).filter((f) => f.endsWith(".spool")).length,
      0,
      "all acknowledged: all gone",
    );
    await s.close();
    const t = await Spool.open(dir, opts);
    assert.equal(t.lastSeq, 40_000, "state.json keeps the floor when every segment is gone");
    await t.close();
  });

  test("drop-newest: refused records are one gap, written when there is room again", async () => {
    const dir = tempDir();
    const s = await Spool.open(dir, { maxBytes: 1024 * 1024, policy: "drop-newest" });
    let refused = 0;
    for (let i = 0; i < 20_000; i++) if (!s.append(Buffer.alloc(100, 0x62))) refused++;
    await s.flush();
    assert.ok(refused > 0);
    assert.equal(s.stats.droppedRecords, refused);
    await s.ack(s.lastSeq - refused); // the collector took everything stored: room again
    await s.flush();
    const frames = await readAllFrames(s, s.lastSeq - refused);
    assert.deepEqual(frames, [["gap", 20_000, refused]]);
    await s.close();
  });

  test("the reader hands out every seq once, in order, while acks remove segments under it", async () => {
    const dir = tempDir();
    // 512 KiB: segments of 64 KiB, so the records below (about 450 KB) span seven of them
    const s = await Spool.open(dir, { maxBytes: 512 * 1024, policy: "drop-oldest" });
    const total = 5000;
    const d = { got: [] as number[] };
    const decoder = new AgentDecoder(1 << 20, {
      hello: () => {},
      records: (_b, _o, seqs, n) => {
        for (let k = 0; k < n; k++) d.got.push(seqs[k]!);
      },
      truncated: () => {},
      unterminated: () => {},
      gap: () => {},
    });
    decoder.push(encodeHello({ stream: "a", spool: "b" }));
    // segments of 64 KiB: commit in small batches, so that there are many
    for (let i = 1; i <= total; i++) {
      s.append(Buffer.alloc(40 + (i % 50), 0x61));
      if (i % 300 === 0) await s.flush();
    }
    await s.flush();
    assert.ok(s.segmentList().length >= 5, `${s.segmentList().length} segments`);
    const reader = new SpoolReader(s, 0);
    // each call reads to the end of a segment; the collector's ack of what came so far lands
    // while the next call is under way, removing the segments before it from the live list
    while (d.got.length < total) {
      const pending = reader.next(1);
      void s.ack(d.got.at(-1) ?? 0);
      for (const f of (await pending) ?? []) decoder.push(f);
      assert.equal(d.got.at(-1), d.got.length, "no seq skipped, none twice");
    }
    await reader.close();
    assert.equal(d.got.length, total);
    for (const [i, seq] of d.got.entries()) assert.equal(seq, i + 1);
    await s.close();
  });
});
