import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { streamSegments } from "../src/store/read.ts";
import { Store } from "../src/store/store.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const activeFile = (dir: string) =>
  join(
    dir,
    readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort()
      .at(-1)!,
  );

/** A store with 20 records; the last is long and full of escapes, so its line has many offsets. */
async function fixture(root: string): Promise<{ dir: string; lastStart: number; size: number }> {
  const store = await Store.open(root);
  const w = await store.stream("vm", "main");
  for (let i = 1; i < 20; i++) w.appendRecords([Buffer.from(`record ${i}`)], [`ref${i}`]);
  w.appendRecords([Buffer.from("last \x1b[31m\u202e\\ record\nwith a newline and é")], ["ref20"]);
  await store.close();
  const dir = join(root, "origins/vm/main");
  const text = readFileSync(activeFile(dir));
  return { dir, lastStart: text.lastIndexOf(0x0a, text.length - 2) + 1, size: text.length };
}

describe("recovery", () => {
  test("truncating the active segment at every byte offset of its last record loses only that record", async () => {
    const base = tempDir();
    const pristine = join(base, "pristine");
    const { lastStart, size } = await fixture(pristine);
    for (let cut = lastStart; cut <= size; cut++) {
      const root = join(base, `cut-${cut}`);
      cpSync(pristine, root, { recursive: true });
      const dir = join(root, "origins/vm/main");
      truncateSync(activeFile(dir), cut);
      const complete = cut === size;
      const store = await Store.open(root);
      const w = await store.stream("vm", "main");
      assert.equal(w.nextSeq, complete ? 21 : 20, `cut at ${cut}`);
      assert.equal(await w.durableRef(), complete ? "ref20" : "ref19", `cut at ${cut}`);
      assert.equal(statSync(activeFile(dir)).size, complete ? size : lastStart, "torn tail cut off");
      w.appendRecords([Buffer.from("after recovery")]);
      await store.close();
      const recs = await readAll(root, "vm", "main");
      assert.deepEqual(
        recs.map((r) => r.seq),
        Array.from({ length: complete ? 21 : 20 }, (_, i) => i + 1),
      );
      assert.equal(recs.at(-1)!.payload.toString(), "after recovery");
      rmSync(root, { recursive: true });
    }
  });

  test("garbage after the last line (zeros, a half line with an LF-less tail) is cut away", async () => {
    const root = tempDir();
    const { dir, size } = await fixture(root);
    const file = activeFile(dir);
    for (const tail of [
      Buffer.alloc(4096),
      Buffer.from("2026-11-24T09:16:19.1"),
      Buffer.from("\0\0\0\n\0\0\n"),
    ]) {
      writeFileSync(file, Buffer.concat([readFileSync(file).subarray(0, size), tail]));
      const store = await Store.open(root);
      const w = await store.stream("vm", "main");
      assert.equal(w.nextSeq, 21);
      await store.close();
      assert.equal(statSync(file).size, size);
    }
  });

  test("a broken chain inside the unsynced tail is cut at the first bad line", async () => {
    const root = tempDir();
    const { dir } = await fixture(root);
    const file = activeFile(dir);
    const text = readFileSync(file, "latin1");
    const lines = text.split("\n");
    // line 15 replaced by zeros of the same length, as a crash can leave unsynced pages
    lines[14] = "\0".repeat(lines[14]!.length);
    writeFileSync(file, lines.join("\n"), "latin1");
    const store = await Store.open(root);
    const w = await store.stream("vm", "main");
    assert.equal(w.nextSeq, 15);
    await store.close();
    assert.deepEqual(
      (await readAll(root, "vm", "main")).map((r) => r.seq),
      Array.from({ length: 14 }, (_, i) => i + 1),
    );
  });

  test("an empty or entirely torn active segment is removed and numbering continues", async () => {
    const root = tempDir();
    const store = await Store.open(root, { maxSegmentBytes: 4096 });
    const w = await store.stream("vm", "main");
    for (let i = 0; i < 200; i++) w.appendRecords([Buffer.from(`record ${i} padding padding`)]);
    await store.idle();
    await store.close();
    const dir = join(root, "origins/vm/main");
    const segs = await streamSegments(root, "vm", "main");
    const lastSealed = segs.at(-2)!;
    truncateSync(activeFile(dir), 10);
    const again = await Store.open(root, { maxSegmentBytes: 4096 });
    const w2 = await again.stream("vm", "main");
    assert.equal(w2.nextSeq, lastSealed.lastSeq + 1);
    w2.appendRecords([Buffer.from("next")]);
    await again.close();
    const recs = await readAll(root, "vm", "main");
    assert.equal(recs.at(-1)!.seq, lastSealed.lastSeq + 1);
  });

  test("leftovers of an interrupted compression are resolved: the plain file wins", async () => {
    const root = tempDir();
    let store = await Store.open(root, { maxSegmentBytes: 4096, compress: false });
    const w = await store.stream("vm", "main");
    for (let i = 0; i < 300; i++) w.appendRecords([Buffer.from(`record ${i} padding padding`)]);
    await store.idle();
    await store.close();
    const dir = join(root, "origins/vm/main");
    const plain = readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .sort();
    assert.ok(plain.length >= 3);
    // a finished .zst next to its .log (stop before the unlink), and a half-written .tmp
    writeFileSync(join(dir, `${plain[0]}.zst`), "not really zstd");
    writeFileSync(join(dir, `${plain[1]}.zst.tmp`), "half");
    store = await Store.open(root, { maxSegmentBytes: 4096 });
    await store.stream("vm", "main");
    await store.idle();
    await store.close();
    assert.equal(existsSync(join(dir, `${plain[1]}.zst.tmp`)), false);
    const segs = await streamSegments(root, "vm", "main");
    assert.ok(
      segs.slice(0, -1).every((s) => s.compressed),
      "sealed segments compressed on reopen",
    );
    assert.deepEqual(
      (await readAll(root, "vm", "main")).map((r) => r.seq),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
  });
});
