// export and open on a full disk, and an archive path whose directory does not exist: one
// sentence naming the file, a non-zero exit, and nothing left behind (no half archive, no
// private temporary directory).
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { tempDir } from "./helpers/tmp.ts";
import { mountTmpfs } from "./helpers/tmpfs.ts";

test("export and open on a full disk say so and leave nothing behind", async (t) => {
  const mnt = mountTmpfs("1m", "logward-export-full-");
  if (!mnt) return t.skip("needs root and a tmpfs mount to make a small real filesystem");
  // about 3 MB of records: more than the 1 MiB filesystem holds, even compressed (random text)
  const root = join(tempDir(), "store");
  const store = await Store.open(root);
  const w = await store.stream("work", "main");
  for (let i = 0; i < 3000; i++)
    w.appendRecords([Buffer.from(`${i} ${crypto.getRandomValues(Buffer.alloc(500)).toString("base64")}`)]);
  await store.flush();
  await store.close();

  // the archive itself does not fit
  const archive = await logward(["export", "work", "-o", join(mnt, "out.tar.zst"), "--store", root]);
  assert.equal(archive.code, 1, archive.stderr);
  assert.equal(
    archive.stderr,
    `logward: Could not write ${join(mnt, "out.tar.zst")}: the disk is full; free some space and try again.\n`,
  );
  assert.deepEqual(readdirSync(mnt), [], "no half archive is left, under either name");

  // the private copies of the selection (export's members, open's file) do not fit
  const viewer = join(tempDir(), "logward.toml");
  writeFileSync(viewer, '[viewers]\ndefault = ["true", "{file}"]\n');
  for (const args of [
    ["export", "work", "-o", join(tempDir(), "out.tar.zst")],
    ["open", "work", "--config", viewer],
  ]) {
    const r = await logward([...args, "--store", root], { TMPDIR: mnt });
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^logward: Could not write \S+\/logward-(export|open)-\w+\/\S+\.log: the disk is full; free some space and try again\.\n$/,
      args[0],
    );
    assert.deepEqual(readdirSync(mnt), [], `${args[0]}: its private directory is removed`);
  }

  const nodir = await logward([
    "export",
    "work",
    "-o",
    join(mnt, "no", "such", "x.tar.zst"),
    "--store",
    root,
  ]);
  assert.equal(nodir.code, 2);
  assert.match(
    nodir.stderr,
    /^logward: The directory \S+\/no\/such does not exist; create it or write the archive elsewhere\.\n$/,
  );
});
