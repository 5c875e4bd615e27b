// Fuzzing verify-export (issue 21, "Fuzzing and property tests"): query/export-verify.ts and
// the checks of query/export-check.ts on archives built as export builds them, then changed
// (bytes of the tar set, members renamed, sizes and names in the manifest changed, a tail cut),
// and on arbitrary bytes. An archive either verifies or is refused with a LogwardError
// (LW_EXPORT_INVALID), quickly, with a message that echoes no raw control character; and
// decompression stays bounded by what the manifest declares.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import fc from "fast-check";
import { LogwardError } from "../src/errors.ts";
import { checkManifest, TextMemberCheck } from "../src/query/export-check.ts";
import { verifyArchive } from "../src/query/export-verify.ts";
import { TAR_END, tarHeader, tarPadding } from "../src/query/tar.ts";
import { escapePayload } from "../src/store/escape.ts";
import { formatTime } from "../src/store/record.ts";
import { crashers, echoSafe, rejected, runs, thrown } from "./helpers/fuzz.ts";

const dir = mkdtempSync(join(tmpdir(), "lw-fuzz-export-"));
const file = join(dir, "a.tar.zst");

function member(path: string, body: Buffer): Buffer {
  const slash = path.lastIndexOf("/");
  return Buffer.concat([
    tarHeader(slash === -1 ? "" : path.slice(0, slash), path.slice(slash + 1), body.length, 0),
    body,
    tarPadding(body.length),
  ]);
}

interface Stream {
  origin: string;
  stream: string;
  payloads: Uint8Array[];
}

/** The tar export writes for these streams, and its manifest's document (to change). */
function archive(
  streams: Stream[],
  edit: (manifest: { members: Record<string, unknown>[] }) => void,
): Buffer {
  const logs = streams.map((s) => {
    const text = Buffer.concat(
      s.payloads.map((p, i) =>
        Buffer.concat([
          Buffer.from(`${formatTime(1e15 + i)} ${i + 1} . `),
          escapePayload(p),
          Buffer.from("\n"),
        ]),
      ),
    );
    return { path: `origins/${s.origin}/${s.stream}.log`, s, text };
  });
  const manifest = {
    format: "logward-export 1",
    members: logs.map((l) => ({
      path: l.path,
      origin: l.s.origin,
      stream: l.s.stream,
      bytes: l.text.length,
      records: l.s.payloads.length,
      sha256: createHash("sha256").update(l.text).digest("hex"),
    })) as Record<string, unknown>[],
    objects: [],
  };
  edit(manifest);
  return Buffer.concat([
    member("README.txt", Buffer.from("An export of logward.\n")),
    member("manifest.json", Buffer.from(JSON.stringify(manifest))),
    ...logs.map((l) => member(l.path, l.text)),
    TAR_END,
  ]);
}

const name = fc.constantFrom(
  "work",
  "sys-net",
  "a.b",
  "_logward",
  "..",
  "a/b",
  "\u001b]0;x\u0007",
  "é",
  "constructor",
);
const streams = fc.uniqueArray(
  fc.record({
    origin: name,
    stream: fc.constantFrom("app", "kern", "x"),
    payloads: fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 4 }),
  }),
  { selector: (s) => `${s.origin}/${s.stream}`, maxLength: 3 },
);
const manifestEdit = fc.record({
  index: fc.nat(),
  key: fc.constantFrom("path", "bytes", "records", "sha256", "origin"),
  value: fc.constantFrom(
    "/etc/passwd",
    "origins/../../x.log",
    "origins/w/\u001b[2J.log",
    "origins/w/\u009b31m.log",
    -1,
    2 ** 53,
    1e12,
    "0".repeat(64),
    null,
  ),
});
/** A tar made as export makes it, then changed. */
const tar = fc
  .tuple(
    streams,
    fc.option(manifestEdit),
    fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 3 }),
    fc.option(fc.nat()),
  )
  .map(([ss, me, sets, cut]) => {
    const t = archive(ss, (m) => {
      if (me && m.members.length > 0) m.members[me.index % m.members.length]![me.key] = me.value;
    });
    for (const s of sets) t[s.at % t.length] = s.byte;
    return cut === null ? t : t.subarray(0, cut % (t.length + 1));
  });

async function verify(bytes: Buffer): Promise<void> {
  writeFileSync(file, bytes);
  const began = performance.now();
  const err = await rejected(() => verifyArchive(file));
  assert.ok(performance.now() - began < 5000, "verify-export took over 5 s");
  if (err === undefined) return;
  assert.ok(err instanceof LogwardError && err.code === "LW_EXPORT_INVALID", `threw ${String(err)}`);
  assert.ok(echoSafe(err.message), `echoes raw control characters: ${JSON.stringify(err.message)}`);
}

describe("verify-export on changed and arbitrary archives", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("an archive built as export builds it verifies", async () => {
    await fc.assert(
      fc.asyncProperty(
        streams.map((ss) => ss.filter((s) => /^[a-z][a-z.-]*$/.test(s.origin))),
        async (ss) => {
          writeFileSync(file, zstdCompressSync(archive(ss, () => {})));
          const v = await verifyArchive(file);
          assert.equal(v.streams, ss.length);
        },
      ),
      runs(100, { slow: true }),
    );
  });

  test("changed tars: verified or LW_EXPORT_INVALID, quickly, safe to print", async () => {
    for (const { bytes } of crashers("export")) await verify(bytes);
    await fc.assert(
      fc.asyncProperty(tar, (t) => verify(zstdCompressSync(t))),
      runs(300, { slow: true }),
    );
  });

  test("arbitrary and changed compressed bytes: LW_EXPORT_INVALID, safe to print", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
          fc.tuple(tar, fc.nat(), fc.nat(255)).map(([t, at, b]) => {
            const z = zstdCompressSync(t);
            z[at % z.length] = b;
            return z;
          }),
        ),
        verify,
      ),
      runs(300, { slow: true }),
    );
  });
});

describe("the export checks on their own", () => {
  test("checkManifest and TextMemberCheck throw only Errors, with printable messages", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
        ),
        fc.uint8Array({ maxLength: 200 }),
        fc.option(fc.nat(5)),
        (text, bytes, records) => {
          for (const f of [
            () => checkManifest(text),
            () => {
              const c = new TextMemberCheck("origins/w/\u001b.log", records);
              c.push(Buffer.from(bytes));
              c.end();
            },
          ]) {
            const err = thrown(f);
            if (err === undefined) continue;
            assert.ok(err instanceof Error && err.constructor === Error, String(err));
            assert.ok(echoSafe(err.message), JSON.stringify(err.message));
          }
        },
      ),
      runs(3000),
    );
  });
});
