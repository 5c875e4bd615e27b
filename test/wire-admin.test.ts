// The admin protocol's answers (wire/admin.ts): a refusal carries its code apart from its
// sentence, and an older collector's form (the code in front of the message) still reads.

import assert from "node:assert/strict";
import { test } from "node:test";
import { LogwardError } from "../src/errors.ts";
import { adminError, adminFailure, encodeRmRequest, parseRmRequest } from "../src/wire/admin.ts";

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
