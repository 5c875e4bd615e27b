// An export's manifest may list, per stream, the ranges the exporter's store could not read
// back (`damaged`, written by writeArchive after a reader met a garbled frame or EIO; the
// end-to-end case is in fault-eio.test.ts). The list comes from an archive someone hands us,
// so verify-export checks its shape and only ever counts it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkManifest, damagedCount } from "../src/query/export-check.ts";

const member = (damaged: unknown) => ({
  path: "origins/vm/main.log",
  origin: "vm",
  stream: "main",
  records: 3,
  bytes: 10,
  sha256: "0".repeat(64),
  ...(damaged === undefined ? {} : { damaged }),
});
const manifest = (damaged: unknown) =>
  JSON.stringify({ format: "logward-export 1", members: [member(damaged)], objects: [] });

test("export manifest: damaged ranges are counted, a manifest without them reads as before", () => {
  const ok = checkManifest(
    manifest([
      { first_seq: 4, last_seq: 9, first_time: "", last_time: "", file: "x.zst", reason: "r" },
      { first_seq: 20, last_seq: 20, first_time: "", last_time: "", file: "y.zst", reason: "r" },
    ]),
  );
  assert.equal(damagedCount(ok.members[0]!), 7);
  assert.equal(damagedCount(checkManifest(manifest(undefined)).members[0]!), 0);
});

test("export manifest: a malformed damaged list is refused, never counted", () => {
  for (const bad of [
    "all",
    [{ first_seq: 9, last_seq: 4 }],
    [{ first_seq: -1, last_seq: 4 }],
    [{ first_seq: 1, last_seq: 2 ** 60 }],
    [null],
    { length: 1 },
  ]) {
    assert.throws(() => checkManifest(manifest(bad)), /not one logward export writes/, JSON.stringify(bad));
  }
});
