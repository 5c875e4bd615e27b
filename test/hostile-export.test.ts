// verify-export against crafted archives (issue 21, item 7): member names that escape the
// directory or drive a terminal, a manifest that lists them, content export never writes, and
// decompression bombs. Each archive is built by hand (ustar headers + zstd), with a manifest
// whose SHA-256s, sizes and record counts match, so only the new checks can catch it.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import { TAR_END, tarHeader, tarPadding } from "../src/query/tar.ts";
import { logward } from "./helpers/cli.ts";
import { tempDir } from "./helpers/tmp.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;
const LINE = (seq: number, payload: string) => `2026-11-26T10:00:00.000000Z ${seq} . ${payload}\n`;

interface Member {
  path: string;
  data: Buffer;
  /** as the manifest lists it; defaults to a .log member of work/main */
  listed?: Record<string, unknown> | null;
  /** the tar header's size, when it lies about data */
  size?: number;
}

function member(path: string, data: Buffer): Buffer[] {
  return [tarHeader("", path, data.length, 1_764_000_000), data, tarPadding(data.length)];
}

/** An uncompressed archive: README, a manifest listing `members` consistently, the members. */
function tarOf(members: Member[], extra: Record<string, unknown> = {}): Buffer {
  const listed = members
    .filter((m) => m.listed !== null)
    .map((m) => ({
      path: m.path,
      origin: "work",
      stream: "main",
      records: m.data.toString("latin1").split("\n").length - 1,
      first_time: null,
      last_time: null,
      first_seq: 1,
      last_seq: 1,
      bytes: m.size ?? m.data.length,
      sha256: sha(m.data),
      ...m.listed,
    }));
  const manifest = Buffer.from(
    `${JSON.stringify({ format: "logward-export 1", created: "2026-11-26T10:00:00.000Z", since: null, until: null, members: listed, objects: [], ...extra }, null, 2)}\n`,
  );
  return Buffer.concat([
    ...member("README.txt", Buffer.from("This archive was written by logward export.\n")),
    ...member("manifest.json", manifest),
    ...members.flatMap((m) =>
      m.size === undefined ? member(m.path, m.data) : [tarHeader("", m.path, m.size, 1_764_000_000), m.data],
    ),
    ...(members.some((m) => m.size !== undefined) ? [] : [TAR_END]),
  ]);
}

async function verify(dir: string, name: string, archive: Buffer) {
  const file = join(dir, name);
  writeFileSync(file, archive);
  const r = await logward(["verify-export", file]);
  assert.doesNotMatch(r.stderr, UNSAFE, `${name}: stderr ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stdout.toString(), UNSAFE, `${name}: stdout ${JSON.stringify(r.stdout.toString())}`);
  return r;
}

/**
 * One zstd frame, built by hand: `prefix` in raw blocks, then `zeros` zero bytes as RLE blocks
 * of 128 KiB (4 bytes each): 4 GiB costs 128 KiB. Node reads only a file's first frame.
 */
function bombFrame(prefix: Buffer, zeros: number): Buffer {
  const MAX = 128 * 1024;
  const blocks: [number, number, Buffer][] = [];
  for (let i = 0; i < prefix.length; i += MAX)
    blocks.push([0, Math.min(MAX, prefix.length - i), prefix.subarray(i, i + MAX)]);
  for (let left = zeros; left > 0; left -= MAX) blocks.push([1, Math.min(MAX, left), Buffer.from([0])]);
  // magic, frame header descriptor (no content size, no checksum), window 128 KiB
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])];
  blocks.forEach(([type, size, body], k) => {
    const v = (size << 3) | (type << 1) | (k === blocks.length - 1 ? 1 : 0);
    parts.push(Buffer.from([v & 255, (v >> 8) & 255, (v >> 16) & 255]), body);
  });
  return Buffer.concat(parts);
}

describe("verify-export trusts nothing in the archive", () => {
  test("a consistent hand-made archive verifies (the helpers build what export writes)", async () => {
    const dir = tempDir();
    const ok = tarOf([{ path: "origins/work/main.log", data: Buffer.from(LINE(1, "hello \\x1b world")) }]);
    const r = await verify(dir, "ok.tar.zst", zstdCompressSync(ok));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /OK, 1 streams, 1 records/);
  });

  test("names: absolute, '..', control bytes, not in the manifest; printed escaped", async () => {
    const dir = tempDir();
    const data = Buffer.from(LINE(1, "x"));
    const cases: [string, Member[], RegExp][] = [
      ["dotdot", [{ path: "../../../tmp/pwned.log", data }], /'\.\.' component/],
      ["dotdot-inner", [{ path: "origins/work/../../x.log", data }], /'\.\.' component/],
      [
        "dotdot-unlisted",
        [{ path: "../../x.log", data, listed: null }],
        /member \.\.\/\.\.\/x\.log has a '\.\.'/,
      ],
      [
        "absolute-unlisted",
        [{ path: "/etc/cron.d/x", data, listed: null }],
        /member \/etc\/cron\.d\/x has an absolute/,
      ],
      [
        "osc-unlisted",
        [{ path: "\x1b]0;pwned\x07", data, listed: null }],
        /member \\x1b\]0;pwned\\x07 has a NUL, control/,
      ],
      [
        "odd-unlisted",
        [{ path: "origins/work/x.exe", data, listed: null }],
        /not a member logward export writes/,
      ],
      ["absolute", [{ path: "/etc/cron.d/pwned", data }], /absolute/],
      ["osc", [{ path: "origins/work/\x1b]0;pwned\x07\x1b[2J.log", data }], /control/],
      ["c1-bidi", [{ path: "origins/work/ma\u009b\u202ein.log", data }], /control/],
      ["unlisted", [{ path: "origins/work/main.log", data, listed: null }], /not in the manifest/],
      ["shape", [{ path: "origins/work/other.log", data }], /not one logward export writes/],
    ];
    for (const [name, members, want] of cases) {
      const r = await verify(dir, `${name}.tar.zst`, zstdCompressSync(tarOf(members)));
      assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /does not verify/, name);
      assert.match(r.stderr, want, name);
    }
  });

  test("content: a log member with raw ESC/BEL, or lines export never writes, fails", async () => {
    const dir = tempDir();
    const cases: [string, Buffer][] = [
      ["esc-bel", Buffer.from(LINE(1, "\x1b]0;pwned\x07"))],
      ["c1", Buffer.from(LINE(1, "a\u009bb"))],
      ["bidi", Buffer.from(LINE(1, "gnp\u202eexe"))],
      ["invalid-utf8", Buffer.concat([Buffer.from(LINE(1, "a")), Buffer.from([0xff, 0x0a])])],
      ["not-a-record", Buffer.from("just some text\n")],
      ["no-final-lf", Buffer.from(LINE(1, "x").slice(0, -1))],
    ];
    for (const [name, data] of cases) {
      const r = await verify(
        dir,
        `${name}.tar.zst`,
        zstdCompressSync(tarOf([{ path: "origins/work/main.log", data }])),
      );
      assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /does not verify/, name);
    }
  });

  test("bombs: a 128 KiB archive that expands to 4 GiB fails fast", async () => {
    const dir = tempDir();
    const GiB4 = 4 * 1024 ** 3;
    // 4 GiB of zeros after a valid archive's end marker
    const valid = tarOf([{ path: "origins/work/main.log", data: Buffer.from(LINE(1, "x")) }]);
    const trailing = bombFrame(valid, GiB4);
    assert.ok(trailing.length < 160 * 1024, `the bomb is small: ${trailing.length} bytes`);
    const t = await verify(dir, "trailing.tar.zst", trailing);
    assert.equal(t.code, 1, `${t.stdout}${t.stderr}`);
    assert.match(t.stderr, /more than/);
    // a member declared (in the manifest and its header) as 4 GiB of zeros
    const head = tarOf([
      { path: "origins/work/main.log", data: Buffer.alloc(0), size: GiB4, listed: { records: 1 } },
    ]);
    const b = await verify(dir, "bomb.tar.zst", bombFrame(head, GiB4));
    assert.equal(b.code, 1, `${b.stdout}${b.stderr}`);
    assert.match(b.stderr, /does not verify/);
    // a member the manifest does not list, 4 GiB of zeros
    const unlisted = tarOf([
      { path: "origins/work/main.log", data: Buffer.alloc(0), size: GiB4, listed: null },
    ]);
    const u = await verify(dir, "unlisted-bomb.tar.zst", bombFrame(unlisted, GiB4));
    assert.equal(u.code, 1, `${u.stdout}${u.stderr}`);
    assert.match(u.stderr, /not in the manifest/);
    // a manifest bigger than any manifest: refused at its header
    const hugeManifest = Buffer.concat([
      ...member("README.txt", Buffer.from("x\n")),
      tarHeader("", "manifest.json", GiB4, 1_764_000_000),
    ]);
    const m = await verify(dir, "manifest-bomb.tar.zst", bombFrame(hugeManifest, GiB4));
    assert.equal(m.code, 1, `${m.stdout}${m.stderr}`);
    assert.match(m.stderr, /manifest/);
  });
});
