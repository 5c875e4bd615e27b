import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import { LogwardError } from "../src/errors.ts";
import { streamSegments } from "../src/store/read.ts";
import { Store } from "../src/store/store.ts";
import { manualClock, readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const isCode = (code: string) => (e: unknown) => e instanceof LogwardError && e.code === code;

describe("store: appending and durability", () => {
  test("appended records are durable, readable, and numbering continues after reopen", async () => {
    const root = tempDir();
    let store = await Store.open(root);
    let w = await store.stream("work", "main");
    const last = w.appendRecords([Buffer.from("one"), Buffer.from("two\x1b[2J"), Buffer.alloc(0)]);
    assert.equal(last, 3);
    w.appendCollector("note", "hello from the collector");
    await w.waitDurable();
    assert.equal(w.durableSeq, 4);
    await store.close();

    store = await Store.open(root);
    w = await store.stream("work", "main");
    assert.equal(w.nextSeq, 5);
    w.appendRecords([Buffer.from("after reopen")]);
    await store.close();

    const recs = await readAll(root, "work", "main");
    assert.deepEqual(
      recs.map((r) => [r.seq, r.kind, r.payload.toString("latin1")]),
      [
        [1, ".", "one"],
        [2, ".", "two\x1b[2J"],
        [3, ".", ""],
        [4, "!note", "hello from the collector"],
        [5, ".", "after reopen"],
      ],
    );
    // the raw file is grep-able text with the escape sequence neutralised
    const dir = join(root, "origins/work/main");
    const text = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(".log"))!), "latin1");
    assert.match(text, / 2 \. two\\x1b\[2J\n/);
    assert.doesNotMatch(text, /\x1b/);
  });

  test("receive times never go backwards within a stream, even if the clock does", async () => {
    const clock = manualClock();
    const store = await Store.open(tempDir(), { clock });
    const w = await store.stream("a", "s");
    w.appendRecords([Buffer.from("1")]);
    clock.advance(-5_000_000); // wall clock steps back 5 s
    w.appendRecords([Buffer.from("2")]);
    clock.advance(10_000_000);
    w.appendRecords([Buffer.from("3")]);
    await store.close();
    const times = (await readAll(store.root, "a", "s")).map((r) => r.time);
    assert.equal(times[0], times[1]);
    assert.ok(times[2]! > times[1]!);
  });

  test("many streams at once are committed together and each reports its durable sequence", async () => {
    const store = await Store.open(tempDir());
    const writers = await Promise.all(Array.from({ length: 25 }, (_, i) => store.stream(`vm${i}`, "main")));
    for (let round = 0; round < 20; round++) {
      for (const w of writers) w.appendRecords([Buffer.from(`round ${round}`)]);
    }
    await Promise.all(writers.map((w) => w.waitDurable(20)));
    for (const w of writers) assert.equal(w.durableSeq, 20);
    await store.close();
    for (let i = 0; i < 25; i++) assert.equal((await readAll(store.root, `vm${i}`, "main")).length, 20);
  });

  test("appendSlices stores exactly what appendRecords stores", async () => {
    const root = tempDir();
    const store = await Store.open(root);
    const a = await store.stream("a", "records");
    const b = await store.stream("a", "slices");
    const chunk = Buffer.concat([
      Buffer.from("first\nsecond \x1b[1m\n\nthird \u202e"),
      Buffer.from([0xff, 0x0a]),
    ]);
    const offsets: number[] = [];
    const views: Buffer[] = [];
    for (let s = 0, e = chunk.indexOf(10); e !== -1; s = e + 1, e = chunk.indexOf(10, s)) {
      offsets.push(s, e);
      views.push(chunk.subarray(s, e));
    }
    a.appendRecords(views);
    assert.equal(b.appendSlices(chunk, offsets, views.length), 4);
    assert.throws(() => b.appendSlices(chunk, [0, 2 * 1024 * 1024], 1), isCode("LW_RECORD_TOO_LARGE"));
    await store.close();
    const ra = await readAll(root, "a", "records");
    const rb = await readAll(root, "a", "slices");
    assert.deepEqual(
      rb.map((r) => r.payload),
      ra.map((r) => r.payload),
    );
    assert.deepEqual(
      rb.map((r) => r.payload),
      [
        Buffer.from("first"),
        Buffer.from("second \x1b[1m"),
        Buffer.from(""),
        Buffer.concat([Buffer.from("third \u202e"), Buffer.from([0xff])]),
      ],
    );
  });

  test("an oversized record or a bad ref is refused and nothing is written", async () => {
    const store = await Store.open(tempDir(), { maxRecordBytes: 100 });
    const w = await store.stream("a", "s");
    assert.throws(
      () => w.appendRecords([Buffer.from("ok"), Buffer.alloc(101)]),
      isCode("LW_RECORD_TOO_LARGE"),
    );
    assert.throws(() => w.appendRecords([Buffer.from("ok")], ["has space"]), isCode("LW_BAD_REF"));
    assert.throws(() => w.appendRecords([Buffer.from("ok")], [""]), isCode("LW_BAD_REF"));
    assert.equal(w.nextSeq, 1);
    assert.equal(w.pendingBytes, 0);
    await store.close();
  });

  test("backpressure: backlogged above the high-water mark, refused above the hard limit", async () => {
    const store = await Store.open(tempDir(), { highWaterBytes: 4096, hardLimitBytes: 16384 });
    const w = await store.stream("a", "s");
    const rec = Buffer.alloc(1000, 0x61);
    while (!w.backlogged) w.appendRecords([rec]);
    const drained = w.whenDrained();
    assert.throws(() => {
      for (let i = 0; i < 100; i++) w.appendRecords([rec]);
    }, isCode("LW_BACKLOG_FULL"));
    await drained;
    assert.equal(w.backlogged, false);
    await store.close();
    const recs = await readAll(store.root, "a", "s");
    assert.equal(recs.length, w.nextSeq - 1, "every accepted record was stored");
  });

  test("a busy stream's buffers grow to what its records use, not to the worst escaping", async () => {
    const store = await Store.open(tempDir());
    const w = await store.stream("busy", "main");
    // 1000 plain records of 100 bytes: ~145 KiB of lines. Reserving the whole batch at four
    // bytes per byte (the worst escaping) made the buffer ~470 KiB, and a busy stream keeps two.
    const chunk = Buffer.alloc(101 * 1000, "a");
    const offsets = new Uint32Array(2000);
    for (let k = 0; k < 1000; k++) {
      chunk[k * 101 + 100] = 0x0a;
      offsets[2 * k] = k * 101;
      offsets[2 * k + 1] = k * 101 + 100;
    }
    w.appendSlices(chunk, offsets, 1000);
    assert.ok(w.heldBufferBytes <= 192 * 1024, `holds ${w.heldBufferBytes} bytes`);
    await w.waitDurable();
    assert.equal((await readAll(store.root, "busy", "main")).length, 1000);
    await store.close();
  });

  test("a backlogged stream's buffers stay near stream_buffer, and the ones it grew out of are freed", async () => {
    // a sender that reads on until the stream is backlogged, as a session does, in 64 KiB reads
    // of lines: the pending buffer grew by half again past stream_buffer (20 busy streams held
    // two buffers of 512 KiB each at 256 KiB); each buffer it left behind waited for the garbage
    // collector (src/store/release.ts)
    const highWater = 256 * 1024;
    const store = await Store.open(tempDir(), { highWaterBytes: highWater, compress: false });
    const w = await store.stream("busy", "main");
    const read = Buffer.alloc(64 * 1024, "a");
    for (let k = 99; k < read.length; k += 100) read[k] = 0x0a;
    const whole = read.length - (read.length % 100);
    // two reads before any flush: the first read's buffer (its own ArrayBuffer; a small one
    // would be a slice of Node's pool, never freed this way) is outgrown, and freed
    w.appendLines(read, 0, whole, 1024);
    const first = w.pendingBuffer.buffer;
    assert.equal(first.byteLength, w.pendingBuffer.length);
    w.appendLines(read, 0, whole, 1024);
    assert.notEqual(w.pendingBuffer.buffer, first, "the buffer grew");
    assert.equal(first instanceof ArrayBuffer && first.detached, true);
    let lines = (2 * whole) / 100;
    let held = 0;
    // reads of every size up to 64 KiB, as a socket gives them: some leave the buffer just
    // under stream_buffer, and the next one must fit
    let seed = 7;
    for (let i = 0; i < 400; i++) {
      while (w.backlogged) await w.whenDrained();
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const n = 1 + (seed % (whole / 100));
      w.appendLines(read, 0, n * 100, 1024);
      lines += n;
      held = Math.max(held, w.heldBufferBytes);
    }
    // one buffer filling and one being written, each stream_buffer and one read's records
    assert.ok(held <= 2 * (highWater + 128 * 1024), `held ${held} bytes`);
    await w.waitDurable();
    await store.close();
    assert.equal((await readAll(store.root, "busy", "main")).filter((r) => r.kind === ".").length, lines);
  });

  test("many streams share a total high-water mark; one stream alone may use its own", async () => {
    const store = await Store.open(tempDir(), {
      highWaterBytes: 64 * 1024,
      totalHighWaterBytes: 96 * 1024,
    });
    const a = await store.stream("a", "main");
    const b = await store.stream("b", "main");
    const c = await store.stream("c", "main");
    const rec = Buffer.alloc(999, "x");
    // a alone: 50 KiB unwritten, under its own 64 KiB and under the total
    a.appendRecords(Array.from({ length: 50 }, () => rec));
    assert.equal(a.backlogged, false);
    // b adds 50 KiB: together over 96 KiB, so both (each under its own mark) are held back
    b.appendRecords(Array.from({ length: 50 }, () => rec));
    assert.equal(store.unwrittenBytes > 96 * 1024, true);
    assert.equal(a.backlogged, true);
    assert.equal(b.backlogged, true);
    // c has nothing unwritten: not held (its first chunk may go in; memory stays bounded)
    assert.equal(c.backlogged, false);
    const drained = Promise.all([a.whenDrained(), b.whenDrained()]);
    await drained; // woken by the commit, not by their own appends
    assert.equal(a.backlogged, false);
    assert.equal(b.backlogged, false);
    await Promise.all([a.waitDurable(), b.waitDurable()]);
    assert.equal(store.unwrittenBytes, 0);
    await store.close();
  });

  test("a stream not written for a whole sweep interval gives its buffers back", async () => {
    const store = await Store.open(tempDir());
    const w = await store.stream("quiet", "main");
    w.appendRecords([Buffer.from("one")]);
    await w.waitDurable();
    assert.ok(w.heldBufferBytes > 0);
    store.releaseIdleBuffers(); // written in this interval: kept
    assert.ok(w.heldBufferBytes > 0);
    store.releaseIdleBuffers(); // nothing written for a whole interval: freed
    assert.equal(w.heldBufferBytes, 0);
    // a pending record keeps them: it is not idle
    w.appendRecords([Buffer.from("two")]);
    store.releaseIdleBuffers();
    store.releaseIdleBuffers();
    assert.ok(w.heldBufferBytes > 0);
    await w.waitDurable();
    await store.close();
    const recs = await readAll(store.root, "quiet", "main");
    assert.deepEqual(
      recs.map((r) => r.payload.toString()),
      ["one", "two"],
    );
  });

  test("a stream's disk use never dips while a flush is writing it out (quotas see every byte)", async () => {
    // the policy engine checks quotas on its own timer, which may fire between two writes of
    // one flush: bytes the flush has taken but not yet written must still count
    const store = await Store.open(tempDir(), { maxSegmentBytes: 4096, compress: false });
    const w = await store.stream("a", "s");
    const recs = Array.from({ length: 300 }, (_, i) => Buffer.from(`record ${i} `.padEnd(100, "x")));
    const last = w.appendRecords(recs);
    const expected = w.diskBytes();
    assert.ok(expected > 300 * 100, "the pending records count before the flush");
    const samples: number[] = [];
    let done = false;
    const durable = w.waitDurable().then(() => {
      done = true;
    });
    while (!done) {
      samples.push(w.diskBytes());
      await new Promise((r) => setImmediate(r));
    }
    await durable;
    assert.equal(w.durableSeq, last);
    assert.ok(w.segmentCount > 5, "the flush spans several segments, so several writes");
    assert.ok(samples.length > 5, "sampled while the flush was in flight");
    assert.deepEqual(new Set(samples), new Set([expected]), "the same figure before, during and after");
    assert.equal(w.diskBytes(), expected);
    await store.close();
  });

  test("resume references survive a reopen and are found in sealed segments", async () => {
    const root = tempDir();
    let store = await Store.open(root, { maxSegmentBytes: 4096 });
    let w = await store.stream("a", "agent");
    for (let i = 1; i <= 300; i++) w.appendRecords([Buffer.from(`record ${i} `.repeat(5))], [`s${i}`]);
    w.appendCollector("note", "no ref on this one");
    assert.equal(await w.durableRef(), "s300");
    await store.close();
    store = await Store.open(root, { maxSegmentBytes: 4096 });
    w = await store.stream("a", "agent");
    assert.equal(await w.durableRef(), "s300");
    assert.ok(w.segmentCount > 5);
    await store.close();
    // with the active segment gone, the ref comes from the index of the sealed ones
    const dir = join(root, "origins/a/agent");
    const active = readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort()
      .at(-1)!;
    rmSync(join(dir, active));
    store = await Store.open(root, { maxSegmentBytes: 4096 });
    w = await store.stream("a", "agent");
    const ref = await w.durableRef();
    assert.match(ref ?? "", /^s\d+$/);
    await store.close();
  });
});

describe("store: rotation and compression", () => {
  test("segments rotate by size and are compressed in the background while appending", async () => {
    const root = tempDir();
    const store = await Store.open(root, { maxSegmentBytes: 8192, frameBytes: 4096 });
    const w = await store.stream("busy", "main");
    const sent: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const text = `line ${i} ${"x".repeat(i % 50)} \\ é \u202e`;
      sent.push(text);
      w.appendRecords([Buffer.from(text)]);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await store.idle();
    const segs = await streamSegments(root, "busy", "main");
    assert.ok(segs.length > 20, `expected many segments, got ${segs.length}`);
    assert.ok(
      segs.slice(0, -1).every((s) => s.compressed),
      "all sealed segments compressed",
    );
    assert.ok(
      segs.slice(0, -1).every((s) => s.bytes < s.rawBytes!),
      "compressed segments are smaller",
    );
    for (const s of segs) assert.ok(s.firstSeq <= s.lastSeq);
    for (let k = 1; k < segs.length; k++) assert.equal(segs[k]!.firstSeq, segs[k - 1]!.lastSeq + 1);
    await store.close();
    const recs = await readAll(root, "busy", "main");
    assert.deepEqual(
      recs.map((r) => r.payload.toString("utf8")),
      sent,
    );
    // each compressed file is plain zstd: decompressing all frames gives the text lines
    const dir = join(root, "origins/busy/main");
    const zst = readdirSync(dir).filter((f) => f.endsWith(".zst"));
    const text = Buffer.concat(
      zst.sort().map((f) => zstdDecompressSync(readFileSync(join(dir, f)))),
    ).toString();
    assert.match(text.split("\n")[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z 1 \. line 0 {2}\\\\ é \\u202e$/);
    assert.ok(
      segs.some((s) => (s.frames?.length ?? 0) > 1),
      "segments hold several frames",
    );
  });

  test("a segment is sealed once it is older than the age limit, also when idle", async () => {
    const clock = manualClock();
    const root = tempDir();
    const store = await Store.open(root, { clock, maxSegmentAgeMs: 1000 });
    const w = await store.stream("slow", "main");
    w.appendRecords([Buffer.from("first")]);
    await w.waitDurable();
    clock.advance(2_000_000);
    w.appendRecords([Buffer.from("second, after the age limit")]);
    await store.idle();
    assert.equal(w.segmentCount, 1, "the aged segment was sealed after the flush");
    const segs = await streamSegments(root, "slow", "main");
    assert.equal(segs.length, 1);
    assert.equal(segs[0]!.active, false);
    w.appendRecords([Buffer.from("third")]);
    await store.idle();
    clock.advance(2_000_000);
    w.requestSeal(); // what the store's coarse timer does for idle streams
    await store.idle();
    const after = await streamSegments(root, "slow", "main");
    assert.equal(after.length, 2);
    assert.ok(after.every((s) => !s.active && s.compressed));
    await store.close();
  });

  test("a record larger than a whole segment is stored alone in its own segment", async () => {
    const store = await Store.open(tempDir(), { maxSegmentBytes: 4096, maxRecordBytes: 100_000 });
    const w = await store.stream("a", "s");
    w.appendRecords([Buffer.from("small")]);
    w.appendRecords([Buffer.alloc(20_000, 0x62)]);
    w.appendRecords([Buffer.from("small again")]);
    await store.idle();
    await store.close();
    const recs = await readAll(store.root, "a", "s");
    assert.deepEqual(
      recs.map((r) => r.payload.length),
      [5, 20_000, 11],
    );
  });
});

describe("store: lock, format and index", () => {
  test("a second writer on the same store is refused with a clear message", async () => {
    const root = tempDir();
    const store = await Store.open(root);
    await assert.rejects(Store.open(root), (e: unknown) => {
      assert.ok(isCode("LW_STORE_LOCKED")(e));
      assert.match((e as Error).message, /already writing the store .*stop it first or use another --store/);
      return true;
    });
    await store.close();
    const again = await Store.open(root);
    await again.close();
  });

  test("a store written by a newer format is refused", async () => {
    const root = tempDir();
    (await Store.open(root)).close();
    writeFileSync(join(root, "FORMAT"), "logward store format 99\n");
    await assert.rejects(Store.open(root), isCode("LW_STORE_VERSION"));
  });

  test("a lost or damaged index is rebuilt from the segment files", async () => {
    const root = tempDir();
    let store = await Store.open(root, { maxSegmentBytes: 4096, frameBytes: 4096 });
    let w = await store.stream("a", "s");
    for (let i = 0; i < 500; i++) w.appendRecords([Buffer.from(`record number ${i}`)], [`r${i}`]);
    await store.idle();
    await store.close();
    const before = await streamSegments(root, "a", "s");
    const indexPath = join(root, "origins/a/s/index.json");
    for (const damage of ["", "{not json", JSON.stringify({ format: 1, segments: [{ file: "../../x" }] })]) {
      writeFileSync(indexPath, damage);
      store = await Store.open(root, { maxSegmentBytes: 4096 });
      w = await store.stream("a", "s");
      assert.equal(w.nextSeq, 501);
      await store.close();
      const after = await streamSegments(root, "a", "s");
      assert.deepEqual(
        after.map((s) => [s.firstSeq, s.lastSeq, s.firstTime, s.lastTime, s.records, s.compressed]),
        before.map((s) => [s.firstSeq, s.lastSeq, s.firstTime, s.lastTime, s.records, s.compressed]),
      );
      assert.equal((await readAll(root, "a", "s")).length, 500);
    }
  });

  test("writes after close are refused", async () => {
    const store = await Store.open(tempDir());
    const w = await store.stream("a", "s");
    await store.close();
    assert.throws(() => w.appendRecords([Buffer.from("late")]), isCode("LW_STORE_CLOSED"));
  });
});
