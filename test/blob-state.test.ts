// The blob sender's state (src/agent/blob-state.ts): durable entries, a torn tail cut at open,
// compaction that keeps what matters and bounds the file, --retry-failed.
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BlobState, STATE_FILE } from "../src/agent/blob-state.ts";
import { tempDir } from "./helpers/tmp.ts";

const sha = (i: number) => i.toString(16).padStart(64, "0");
const entry = (i: number, t: "shipped" | "known" | "failed" = "shipped") => ({
  t,
  sha256: sha(i),
  size: i,
  file: `1:${i}:${i}:0:0`,
  path: `/d/f ${i}\nname`,
  ...(t === "failed" ? { reason: "object too large" } : {}),
});

describe("blob state", () => {
  test("entries survive a reopen; a torn last line is cut and later entries still count", async () => {
    const dir = tempDir();
    let s = await BlobState.open(dir);
    await s.record(entry(1));
    await s.record(entry(2, "failed"));
    s.close();
    // a crash in the middle of an append: half a line, no LF
    const full = readFileSync(join(dir, STATE_FILE), "utf8");
    appendFileSync(join(dir, STATE_FILE), full.split("\n")[1]!.slice(0, 40));
    s = await BlobState.open(dir);
    assert.ok(s.isShipped(sha(1)));
    assert.equal(s.failure(sha(2))?.reason, "object too large");
    assert.equal(s.shaOf("1:1:1:0:0"), sha(1));
    await s.record(entry(3));
    s.close();
    s = await BlobState.open(dir);
    assert.ok(s.isShipped(sha(3)), "the entry after the torn one is read");
    assert.equal(s.entryCount, 3);
    s.close();
  });

  test("a line whose CRC does not match is not believed", async () => {
    const dir = tempDir();
    const s = await BlobState.open(dir);
    await s.record(entry(1));
    await s.record(entry(2));
    s.close();
    const path = join(dir, STATE_FILE);
    writeFileSync(path, readFileSync(path, "utf8").replace(`"size":2,`, `"size":3,`));
    const t = await BlobState.open(dir);
    assert.ok(t.isShipped(sha(1)));
    assert.ok(!t.isShipped(sha(2)));
    t.close();
  });

  test("compaction keeps the entries of present files and the newest others; the file stays bounded", async () => {
    const dir = tempDir();
    const s = await BlobState.open(dir, { keepGone: 100 });
    const present = ["1:0:0:0:0", "1:1:1:0:0"];
    await s.record(entry(0));
    await s.record(entry(1, "known"));
    // every scan sees the first two files; each other file is shipped and then goes away
    for (let i = 2; i < 3000; i++) {
      s.setPresent(present);
      await s.record(entry(i));
    }
    const lines = readFileSync(join(dir, STATE_FILE), "utf8").split("\n").length;
    assert.ok(lines < 1200, `${lines} lines`);
    assert.ok(s.isShipped(sha(0)) && s.isShipped(sha(1)), "present files are kept");
    assert.ok(s.isShipped(sha(2999)) && s.isShipped(sha(2900)), "the newest others are kept");
    assert.ok(!s.isShipped(sha(2)), "old entries of gone files are forgotten");
    s.close();
    const t = await BlobState.open(dir);
    assert.ok(t.isShipped(sha(0)) && t.isShipped(sha(2999)) && !t.isShipped(sha(2)));
    t.close();
  });

  test("--retry-failed forgets refusals, durably", async () => {
    const dir = tempDir();
    const s = await BlobState.open(dir);
    await s.record(entry(7, "failed"));
    s.close();
    const t = await BlobState.open(dir, { retryFailed: true });
    assert.equal(t.failure(sha(7)), undefined);
    assert.equal(t.shaOf("1:7:7:0:0"), undefined);
    t.close();
    const u = await BlobState.open(dir);
    assert.equal(u.failure(sha(7)), undefined);
    u.close();
  });
});
