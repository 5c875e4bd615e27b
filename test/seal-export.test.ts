// `verify-export --key`: an export archive carries the `!seal` lines and the exact bytes they
// cover, so its seals verify away from the store. The archive's manifest is not authenticated:
// an attacker who changes a record inside the archive rewrites the manifest's SHA-256 and size
// too (here with the project's own tar writer), which verify-export without --key accepts and
// the seals do not. A time window cuts seal coverage at both ends: counted, not failed.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { before, test } from "node:test";
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { TAR_END, TarReader, tarHeader, tarPadding } from "../src/query/tar.ts";
import { KeyDeriver, parseVerificationKey } from "../src/seal/key.ts";
import { SealedLinesCheck } from "../src/seal/verify-lines.ts";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const CONFIG = '[seal]\ninterval = "1s"\n';
const dir = tempDir("logward-seal-export-");
const store = join(dir, "store");
const whole = join(dir, "whole.tar.zst");
const MEMBER = "origins/work/main.log";
let key = "";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const batch = (b: number) =>
  Array.from({ length: 50 }, (_, i) => `batch${b} record ${i + 1} sshd[812]: Accepted publickey`).join("\n") +
  "\n";

/** The archive's members in order, as path and bytes. */
function unpack(file: string): { path: string; data: Buffer }[] {
  const out: { path: string; data: Buffer }[] = [];
  let parts: Buffer[] = [];
  let path = "";
  const reader = new TarReader({
    member(p) {
      path = p;
      parts = [];
    },
    data(chunk) {
      parts.push(Buffer.from(chunk));
    },
    end() {
      out.push({ path, data: Buffer.concat(parts) });
    },
  });
  reader.push(zstdDecompressSync(readFileSync(file)));
  reader.end();
  return out;
}

/** The archive again, with MEMBER's text changed by `edit` and the manifest made to match. */
function forge(edit: (text: string) => string): string {
  const members = unpack(whole);
  const log = members.find((m) => m.path === MEMBER)!;
  log.data = Buffer.from(edit(log.data.toString("latin1")), "latin1");
  const manifest = members.find((m) => m.path === "manifest.json")!;
  const doc = JSON.parse(manifest.data.toString("utf8"));
  for (const m of doc.members)
    if (m.path === MEMBER) {
      m.bytes = log.data.length;
      m.sha256 = createHash("sha256").update(log.data).digest("hex");
      m.records = log.data.toString("latin1").split("\n").length - 1;
    }
  manifest.data = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
  const parts: Buffer[] = [];
  for (const m of members) {
    parts.push(tarHeader(m.path.includes("/") ? dirname(m.path) : "", basename(m.path), m.data.length, 0));
    parts.push(m.data, tarPadding(m.data.length));
  }
  parts.push(TAR_END);
  const file = join(dir, `forged-${Math.random().toString(36).slice(2)}.tar.zst`);
  writeFileSync(file, zstdCompressSync(Buffer.concat(parts)));
  return file;
}

async function verifyExport(file: string, ...extra: string[]) {
  const r = await logward(["verify-export", file, ...extra]);
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

before(async () => {
  writeFileSync(join(dir, "c.toml"), CONFIG);
  const init = await logward(["seal", "init", "--store", store, "--config", join(dir, "c.toml")]);
  assert.equal(init.code, 0, init.stderr);
  key = init.stdout.toString().trim().split("\n").at(-1)!;
  const d = await serve(store, CONFIG);
  for (let b = 1; b <= 3; b++) {
    await ingest(store, "lines", batch(b), { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "main" });
    await sleep(1300); // one seal per batch
  }
  assert.equal(await d.stop(), 0);
  const e = await logward(["export", "work", "-o", whole, "--store", store]);
  assert.equal(e.code, 0, e.stderr);
});

test("export keeps the !seal lines: the whole sealed stream verifies with --key", async () => {
  const text = unpack(whole)
    .find((m) => m.path === MEMBER)!
    .data.toString("latin1");
  assert.ok((text.match(/ !seal /g) ?? []).length >= 3, "the seal lines are in the archive");
  const r = await verifyExport(whole, "--key", key);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split("\n");
  assert.match(lines[0]!, /: OK, 1 streams, \d+ records; every SHA-256 matches the manifest\.$/);
  assert.match(
    lines[1]!,
    /^seals: \d+ records \(.*\) intact under [3-9] seals$/,
    "no edge: the whole stream is covered",
  );
});

test("without --key verify-export says exactly what it said before", async () => {
  const r = await verifyExport(whole);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    `${whole}: OK, 1 streams, ${r.out.match(/(\d+) records/)![1]} records; every SHA-256 matches the manifest.\n`,
  );
});

test("a byte changed inside the archive, the manifest rewritten to match: only the seals see it", async () => {
  const bad = forge((t) => t.replace("batch2 record 7 ", "batch2 record 8 "));
  assert.equal((await verifyExport(bad)).code, 0, "the manifest alone is not evidence");
  const r = await verifyExport(bad, "--key", key);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /verify-export: work\/main, records \d+–\d+: changed: a record's bytes differ from what was sealed/,
  );
});

test("a line removed or two swapped inside the archive: missing, reordered", async () => {
  const gone = forge((t) => t.replace(/^.* batch2 record 9 .*\n/m, ""));
  const r = await verifyExport(gone, "--key", key);
  assert.equal(r.code, 1);
  assert.match(r.err, /work\/main, records \d+–\d+: missing: records \d+ to \d+ are missing/);
  const swapped = forge((t) => {
    const all = t.split("\n");
    const a = all.findIndex((l) => l.includes("batch1 record 3 "));
    [all[a], all[a + 1]] = [all[a + 1]!, all[a]!];
    return all.join("\n");
  });
  const s = await verifyExport(swapped, "--key", key);
  assert.equal(s.code, 1);
  assert.match(s.err, /: reordered: record \d+ stands where record \d+ belongs/);
});

test("a time window cuts coverage at both ends: the edges are counted, the seals inside verified", async () => {
  const text = unpack(whole)
    .find((m) => m.path === MEMBER)!
    .data.toString("latin1");
  const timeOf = (needle: string) =>
    text
      .split("\n")
      .find((l) => l.includes(needle))!
      .slice(0, 27);
  const window = join(dir, "window.tar.zst");
  const e = await logward([
    "export",
    "work",
    "--since",
    timeOf("batch1 record 1 "),
    "--until",
    timeOf("batch3 record 1 "),
    "-o",
    window,
    "--store",
    store,
  ]);
  assert.equal(e.code, 0, e.stderr);
  const r = await verifyExport(window, "--key", key);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /seals: \d+ records .* intact under [1-9] seals; 2 partial spans at the edges not covered by a whole seal: [1-9]\d* records at the start .*, [1-9]\d* at the end/,
  );
  // a window inside one seal's coverage: nothing whole, still no failure
  const inside = join(dir, "inside.tar.zst");
  const i = await logward([
    "export",
    "work",
    "--since",
    timeOf("batch2 record 1 "),
    "--until",
    timeOf("batch3 record 1 "),
    "-o",
    inside,
    "--store",
    store,
  ]);
  assert.equal(i.code, 0, i.stderr);
  const ri = await verifyExport(inside, "--key", key);
  assert.equal(ri.code, 0, ri.err);
});

test("a wrong key: the seals are another key's", async () => {
  const other = join(dir, "other");
  const init = await logward(["seal", "init", "--store", other, "--config", join(dir, "c.toml")]);
  const r = await verifyExport(whole, "--key", init.stdout.toString().trim().split("\n").at(-1)!);
  assert.equal(r.code, 1);
  assert.match(r.err, /: other key: /);
});

test("the member's bytes in chunks of any size give the same verdict", () => {
  const data = unpack(whole).find((m) => m.path === MEMBER)!.data;
  const keys = new KeyDeriver(parseVerificationKey(key));
  const run = (size: number) => {
    const c = new SealedLinesCheck(keys, "work", "main");
    for (let i = 0; i < data.length; i += size) c.push(data.subarray(i, i + size));
    return c.end();
  };
  const once = run(data.length);
  assert.equal(once.problem, null);
  assert.ok(once.seals >= 3);
  for (const size of [1, 7, 100, 4096]) assert.deepEqual(run(size), once, `chunks of ${size}`);
});
