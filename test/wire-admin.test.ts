// The admin protocol's answers (wire/admin.ts): a refusal carries its code apart from its
// sentence, and an older collector's form (the code in front of the message) still reads.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LogwardError } from "../src/errors.ts";
import {
  adminError,
  adminFailure,
  decodeRmResult,
  encodeRmRequest,
  parseRmRequest,
} from "../src/wire/admin.ts";
import { askCollector } from "../src/wire/collector-client.ts";
import { FramingError } from "../src/wire/framer.ts";
import { decodeEnd, encodeFrame, FRAME_END } from "../src/wire/relay.ts";

test("an admin refusal: {code, message} on the wire, the same error back, old form readable", () => {
  const busy = new LogwardError("LW_BUSY", "disp7/main is receiving records right now; delete it later.");
  const answer = adminFailure(busy);
  assert.deepEqual(JSON.parse(JSON.stringify(answer)), {
    ok: false,
    records: 0,
    bytes: 0,
    code: "LW_BUSY",
    message: "disp7/main is receiving records right now; delete it later.",
  });
  const back = adminError(JSON.parse(JSON.stringify(answer)));
  assert.equal(back.code, "LW_BUSY");
  assert.equal(back.message, busy.message);
  // an older collector: no code, the message starts with it
  const old = adminError({ ok: false, records: 0, bytes: 0, message: `LW_BUSY ${busy.message}` });
  assert.equal(old.code, "LW_BUSY");
  assert.equal(old.message, busy.message);
  // an error that is not a LogwardError, and a code this version does not know
  assert.equal(adminFailure(new Error("disk on fire")).code, "LW_INTERNAL");
  assert.equal(
    adminError({ ok: false, records: 0, bytes: 0, message: "LW_FUTURE later" }).code,
    "LW_INTERNAL",
  );
});

test("an rm request reads back as sent", () => {
  const req = { origin: "work", stream: null, beforeUs: 1_700_000_000_000_000, by: "root(uid:0)" };
  const line = encodeRmRequest(req);
  assert.equal(line, "logward-admin 1 rm work * 1700000000000000 root(uid:0)\n");
  assert.deepEqual(parseRmRequest(line.slice(0, -1)), req);
});

test("a garbled answer or end frame is a FramingError, never a SyntaxError or a half-typed object", () => {
  const good = { ok: true, records: 3, bytes: 120, objects: 1, message: "deleted" };
  assert.deepEqual(decodeRmResult(Buffer.from(JSON.stringify(good))), good);
  const end = { ok: true, records: 2, bytes: 10, message: "eof" };
  assert.deepEqual(decodeEnd(Buffer.from(JSON.stringify(end))), end);
  // found by fuzzing (HJ): JSON.parse on these threw, or let through what is not an answer
  for (const bad of [
    "",
    "not json",
    "null",
    "1",
    '"ok"',
    "[]",
    '{"ok":true}',
    '{"ok":"yes","records":1,"bytes":1,"message":""}',
    '{"ok":true,"records":1e300,"bytes":1,"message":""}',
    '{"ok":false,"records":0,"bytes":0,"message":"x","code":7}',
  ]) {
    assert.throws(() => decodeRmResult(Buffer.from(bad)), FramingError, `rm answer ${bad}`);
    if (!bad.includes('"code"')) assert.throws(() => decodeEnd(Buffer.from(bad)), FramingError, `end ${bad}`);
  }
});

test("rm against a socket that answers garbage: one clear error, no crash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lw-admin-"));
  const path = join(dir, "ingest.sock");
  const server = createServer((s) => {
    s.once("data", () => s.end(encodeFrame(FRAME_END, Buffer.from("{not json"))));
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    await assert.rejects(
      askCollector(path, { origin: "vm1", stream: null, beforeUs: null, by: "test" }),
      (err: unknown) => err instanceof LogwardError && err.code === "LW_NO_COLLECTOR",
    );
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
