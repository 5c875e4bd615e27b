// Faults (issue 21): a compressed segment that cannot be read back whole. A frame of a .zst is
// garbled (zstd's checksum fails, as after a bad sector or a torn page) or cut short: every
// reader (show, search, export, the web UI, verify) names the damaged range in one sentence and goes
// on with the rest of the stream.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { readSegmentLines } from "../src/store/read.ts";
import { readIndex, type SegmentMeta } from "../src/store/segment.ts";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { ingest, serve, uiLogin } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const RECORDS = 3000;

/** A store whose sealed segments are compressed in several small frames each. */
async function storeWithFrames(root: string): Promise<SegmentMeta[]> {
  const store = await Store.open(root, { maxSegmentBytes: 64 * 1024, frameBytes: 8 * 1024 });
  const w = await store.stream("vm", "main");
  for (let i = 1; i <= RECORDS; i++)
    w.appendRecords([Buffer.from(`record ${i} needle ${"p".repeat(i % 40)}`)]);
  await store.idle();
  await store.close();
  const index = await readIndex(join(root, "origins/vm/main"));
  const sealed = index!.segments.filter((s) => s.compressed && (s.frames?.length ?? 0) >= 3);
  assert.ok(sealed.length >= 2, "the fixture has compressed segments of several frames");
  return index!.segments;
}

/** Garbles the middle of frame `k` of `seg`; returns the sequence range the frame holds. */
function garbleFrame(root: string, seg: SegmentMeta, k: number): [number, number] {
  const file = join(root, "origins/vm/main", seg.file);
  const bytes = readFileSync(file);
  const f = seg.frames![k]!;
  const end = seg.frames![k + 1]?.offset ?? bytes.length;
  const mid = f.offset + Math.floor((end - f.offset) / 2);
  for (let i = mid; i < Math.min(mid + 16, end - 4); i++) bytes[i]! ^= 0x5a;
  writeFileSync(file, bytes);
  return [f.firstSeq, (seg.frames![k + 1]?.firstSeq ?? seg.lastSeq + 1) - 1];
}

const numbers = (text: string) => [...text.matchAll(/record (\d+) needle/g)].map((m) => Number(m[1]));

function expectedWithout(ranges: [number, number][]): number[] {
  const out: number[] = [];
  for (let i = 1; i <= RECORDS; i++) if (!ranges.some(([a, b]) => i >= a && i <= b)) out.push(i);
  return out;
}

test("fault: EIO, a garbled frame of a .zst: show, search and export name the range and go on", async () => {
  const root = join(tempDir("logward-eio-"), "store");
  const segs = await storeWithFrames(root);
  const first = segs.find((s) => s.compressed && s.frames!.length >= 3)!;
  const damaged = garbleFrame(root, first, 1);
  const want = expectedWithout([damaged]);
  const sentence = new RegExp(
    `^logward: records ${damaged[0]} to ${damaged[1]} of vm/main \\(.* in ${first.file}\\) cannot be read and are skipped: .*\\.$`,
  );

  const show = await logward(["show", "vm/main", "--store", root]);
  assert.equal(show.code, 0, show.stderr);
  assert.deepEqual(numbers(show.stdout.toString()), want, "every other record is shown, in order");
  const said = show.stderr.trim().split("\n");
  assert.equal(said.length, 1, `one sentence: ${show.stderr}`);
  assert.match(said[0]!, sentence);

  const search = await logward(["search", "needle", "--store", root]);
  assert.equal(search.code, 0, search.stderr);
  assert.deepEqual(numbers(search.stdout.toString()), want);
  assert.equal(search.stderr.trim().split("\n").length, 1, `said once: ${search.stderr}`);
  assert.match(search.stderr.trim(), sentence);

  const archive = join(root, "..", "out.tar.zst");
  const exp = await logward(["export", "vm", "--store", root, "-o", archive]);
  assert.equal(exp.code, 0, exp.stderr);
  assert.match(exp.stderr.trim(), sentence);
  const missing = damaged[1] - damaged[0] + 1;
  assert.match(
    exp.stdout.toString(),
    new RegExp(
      `Exported ${want.length} records .*; ${missing} records the store could not read back are not in it`,
    ),
  );
  // the gap is written down in the manifest, with its range and segment, not only on stderr
  const manifest = JSON.parse(
    execFileSync("sh", ["-c", `zstd -dc < '${archive}' | tar -xO manifest.json`]).toString(),
  ) as { members: { damaged?: { first_seq: number; last_seq: number; file: string }[] }[] };
  assert.deepEqual(
    manifest.members.map((m) => m.damaged?.map((d) => [d.first_seq, d.last_seq, d.file])),
    [[[damaged[0], damaged[1], first.file]]],
  );
  const verified = await logward(["verify-export", archive]);
  assert.equal(verified.code, 0, "what was exported verifies");
  assert.match(
    verified.stdout.toString(),
    new RegExp(`the manifest says ${missing} records .* could not be read`),
  );
});

test("fault: EIO, a .zst cut short (its last frame torn): the rest of the stream is read", async () => {
  const root = join(tempDir("logward-eio-cut-"), "store");
  const segs = await storeWithFrames(root);
  const seg = segs.find((s) => s.compressed && s.frames!.length >= 3)!;
  const last = seg.frames!.at(-1)!;
  const file = join(root, "origins/vm/main", seg.file);
  truncateSync(file, last.offset + 10);
  const want = expectedWithout([[last.firstSeq, seg.lastSeq]]);
  const show = await logward(["show", "vm/main", "--store", root]);
  assert.equal(show.code, 0, show.stderr);
  assert.deepEqual(numbers(show.stdout.toString()), want);
  assert.match(
    show.stderr,
    new RegExp(
      `^logward: records ${last.firstSeq} to ${seg.lastSeq} of vm/main .* cannot be read and are skipped`,
    ),
  );
});

function get(url: string, cookie?: string): Promise<{ status: number; body: string; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: cookie ? { Cookie: cookie } : {} }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          cookie: res.headers["set-cookie"]?.[0]?.split(";")[0],
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

test("fault: EIO, a garbled frame of a .zst: the web UI's records and search name the range", async () => {
  const root = join(tempDir("logward-eio-ui-"), "store");
  const segs = await storeWithFrames(root);
  const seg = segs.find((s) => s.compressed && s.frames!.length >= 3)!;
  const damaged = garbleFrame(root, seg, 0);
  const d = await serve(root);
  try {
    const login = uiLogin(root);
    const base = new URL(login).origin;
    const cookie = (await get(login)).cookie!;
    const recs = JSON.parse(
      (await get(`${base}/api/records?origin=vm&stream=main&from=1&limit=1000`, cookie)).body,
    ) as { damaged: string[]; records: { seq: number }[] };
    assert.equal(recs.damaged.length, 1, JSON.stringify(recs.damaged));
    assert.match(recs.damaged[0]!, new RegExp(`records ${damaged[0]} to ${damaged[1]} of vm/main`));
    assert.equal(recs.records[0]!.seq, damaged[1] + 1, "the page goes on after the damaged range");
    const found = JSON.parse(
      (await get(`${base}/api/search?q=needle&origin=vm&stream=main&limit=5`, cookie)).body,
    ) as { damaged: string[]; hits: unknown[] };
    assert.equal(found.hits.length, 5);
    assert.match(found.damaged[0] ?? "", new RegExp(`records ${damaged[0]} to ${damaged[1]}`));
  } finally {
    await d.stop();
  }
});

test("fault: EIO, a garbled frame of a sealed .zst: verify names the range and fails, never passes", {
  timeout: 60_000,
}, async () => {
  const base = tempDir("logward-eio-seal-");
  const root = join(base, "store");
  const config = '[seal]\ninterval = "1s"\n[store]\nsegment_size = "64KiB"\n';
  writeFileSync(join(base, "c.toml"), config);
  const init = await logward(["seal", "init", "--store", root, "--config", join(base, "c.toml")]);
  assert.equal(init.code, 0, init.stderr);
  const key = init.stdout.toString().trim().split("\n").at(-1)!;
  const d = await serve(root, config);
  try {
    const text = `${Array.from({ length: 6000 }, (_, i) => `line ${i} ${"x".repeat(i % 50)}`).join("\n")}\n`;
    const r = await ingest(root, "lines", text, {
      QREXEC_REMOTE_DOMAIN: "vm",
      QREXEC_SERVICE_ARGUMENT: "main",
    });
    assert.equal(r.code, 0, r.stderr);
    const dir = join(root, "origins/vm/main");
    for (let i = 0; i < 100 && readdirSync(dir).filter((f) => f.endsWith(".zst")).length < 2; i++)
      await sleep(100);
    await sleep(1500);
  } finally {
    await d.stop();
  }
  const dir = join(root, "origins/vm/main");
  const index = (await readIndex(dir))!;
  const seg = index.segments.filter((s) => s.compressed)[1]!;
  const damaged = garbleFrame(root, seg, 0);
  const v = await logward(["verify", "--store", root, "--key", key]);
  assert.notEqual(v.code, 0, "a damaged sealed segment never verifies");
  const said = v.stderr.trim().split("\n");
  assert.match(
    said[0]!,
    new RegExp(`^logward: records ${damaged[0]} to ${damaged[1]} of vm/main .* cannot be read`),
  );
  assert.match(v.stderr, new RegExp(`records ${damaged[0]} to ${damaged[1]} are missing`));
});

test("fault: EIO, a damaged .zst whose index.json entry is lost too: readers and the writer go on", async () => {
  const root = join(tempDir("logward-eio-noindex-"), "store");
  const segs = await storeWithFrames(root);
  const k = segs.findIndex((s) => s.compressed && s.frames!.length >= 3);
  const seg = segs[k]!;
  garbleFrame(root, seg, 1);
  // without the index the frames after the damaged one cannot be found: the frames before it
  // are read, the rest of the segment is the damaged range
  writeFileSync(join(root, "origins/vm/main/index.json"), "");
  const whole: [number, number] = [seg.frames![1]!.firstSeq, segs[k + 1]!.firstSeq - 1];
  const want = expectedWithout([whole]);
  const sentence = new RegExp(
    `^logward: records ${whole[0]} to ${whole[1]} of vm/main \\(.* in ${seg.file}\\) cannot be read and are skipped: .*\\.$`,
  );
  const show = await logward(["show", "vm/main", "--store", root]);
  assert.equal(show.code, 0, show.stderr);
  assert.deepEqual(numbers(show.stdout.toString()), want);
  assert.match(show.stderr.trim(), sentence);
  // the writer's recovery rebuilds the index around it and numbers on after the last record
  const store = await Store.open(root, { maxSegmentBytes: 64 * 1024, frameBytes: 8 * 1024 });
  const w = await store.stream("vm", "main");
  assert.equal(w.nextSeq, RECORDS + 1);
  w.appendRecords([Buffer.from(`record ${RECORDS + 1} needle after`)]);
  await store.close();
  const again = await logward(["show", "vm/main", "--store", root]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(numbers(again.stdout.toString()), [...want, RECORDS + 1]);
  assert.match(again.stderr.trim(), sentence);
});

test("fault: torn index.json over .zst files of many frames: every frame is read, numbering goes on right", async () => {
  const root = join(tempDir("logward-noindex-frames-"), "store");
  const segs = await storeWithFrames(root);
  const dir = join(root, "origins/vm/main");
  // Node's zstd stops after a buffer's first frame: without the index's frame list every
  // frame must still be decoded, by readers and by recovery (whose last seq sets the next)
  writeFileSync(join(dir, "index.json"), "");
  const all = Array.from({ length: RECORDS }, (_, i) => i + 1);
  const show = await logward(["show", "vm/main", "--store", root]);
  assert.equal(show.stderr, "");
  assert.deepEqual(numbers(show.stdout.toString()), all);
  // a reader that listed a segment as plain and finds it compressed since reads it all too
  const seg = segs.find((s) => s.compressed && s.frames!.length >= 3)!;
  const asListed = {
    ...seg,
    file: seg.file.replace(/\.zst$/, ""),
    compressed: false,
    frames: undefined,
    active: false,
  };
  const blocks: Buffer[] = [];
  for await (const b of readSegmentLines(dir, asListed, {})) blocks.push(Buffer.from(b));
  const text = Buffer.concat(blocks);
  assert.equal(text.toString().trimEnd().split("\n").length, seg.records);
  // recovery with only compressed files left (the active one lost): numbering after the last
  const lastSealed = segs.at(-1)!;
  assert.ok(lastSealed.compressed && lastSealed.frames!.length >= 3);
  for (const f of readdirSync(dir)) if (f.endsWith(".log")) rmSync(join(dir, f));
  const store = await Store.open(root, { maxSegmentBytes: 64 * 1024, frameBytes: 8 * 1024 });
  const w = await store.stream("vm", "main");
  const kept = lastSealed.lastSeq;
  assert.equal(w.nextSeq, kept + 1, "no sequence number used twice");
  await store.close();
});
