// export and verify-export carry objects (blob streams) whole and check their SHA-256.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { BSM, EVTX, ingestSamples, sha } from "./helpers/samples.ts";
import { tempDir } from "./helpers/tmp.ts";

/** The members of an uncompressed ustar archive (what logward writes): path -> bytes. */
function untar(tar: Buffer): Map<string, { offset: number; data: Buffer }> {
  const out = new Map<string, { offset: number; data: Buffer }>();
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.toString("utf8", 0, 100).replace(/\0.*$/s, "");
    const prefix = h.toString("utf8", 345, 500).replace(/\0.*$/s, "");
    const size = Number.parseInt(h.toString("latin1", 124, 136).replace(/\0.*$/s, ""), 8);
    out.set(prefix ? `${prefix}/${name}` : name, {
      offset: off + 512,
      data: tar.subarray(off + 512, off + 512 + size),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test("export carries each object's exact bytes, listed with its SHA-256; verify-export checks them", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store);
  try {
    await ingestSamples(store);
    assert.equal((await ingest(store, "lines", "plain\n", { QREXEC_REMOTE_DOMAIN: "mac" })).code, 0);
  } finally {
    await d.stop();
  }
  const archive = join(root, "out.tar.zst");
  const e = await logward(["export", "-o", archive, "--store", store]);
  assert.equal(e.code, 0, e.stderr);
  const v = await logward(["verify-export", archive]);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout.toString(), /OK, \d+ streams, \d+ records, 2 objects; every SHA-256 matches/);

  const tar = zstdDecompressSync(readFileSync(archive));
  const members = untar(tar);
  const evtxPath = `objects/win10/evtx/${sha(EVTX)}.evtx`;
  const bsmPath = `objects/mac/audit/${sha(BSM)}.bsm`;
  assert.equal(sha(members.get(evtxPath)!.data), sha(EVTX));
  assert.equal(sha(members.get(bsmPath)!.data), sha(BSM));
  const manifest = JSON.parse(members.get("manifest.json")!.data.toString()) as {
    objects: { path: string; seq: number; type: string; size: number; sha256: string }[];
  };
  assert.deepEqual(
    manifest.objects.map((o) => [o.path, o.seq, o.type, o.size, o.sha256]).sort(),
    [
      [bsmPath, 2, "bsm", BSM.length, sha(BSM)],
      [evtxPath, 2, "evtx", EVTX.length, sha(EVTX)],
    ].sort(),
  );

  // one byte of an object changed inside the archive: verify-export names it
  const forged = Buffer.from(tar);
  forged[members.get(bsmPath)!.offset + 100]! ^= 1;
  const bad = join(root, "forged.tar.zst");
  writeFileSync(bad, zstdCompressSync(forged));
  const vb = await logward(["verify-export", bad]);
  assert.equal(vb.code, 1);
  assert.match(vb.stderr, new RegExp(`the object ${bsmPath} does not match its SHA-256 in the manifest`));

  // a changed object in the store: export fails in one sentence and leaves no archive
  const stored = join(store, "origins/mac/audit/objects", `${sha(BSM)}.zst`);
  const changed = Buffer.from(BSM);
  changed[7]! ^= 1;
  writeFileSync(stored, zstdCompressSync(changed));
  const archive2 = join(root, "out2.tar.zst");
  const e2 = await logward(["export", "mac", "-o", archive2, "--store", store]);
  assert.equal(e2.code, 1, e2.stderr);
  assert.match(e2.stderr, /does not match its record/);
  assert.equal(existsSync(archive2), false);
  assert.deepEqual(
    readdirSync(root).filter((f) => f.startsWith("out2")),
    [],
  );
});
