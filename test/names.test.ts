import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LogwardError } from "../src/errors.ts";
import { checkName, isValidName, streamDir } from "../src/store/names.ts";

const hostile = [
  "",
  ".",
  "..",
  "../x",
  "../../etc",
  "a/b",
  "a\\b",
  "/abs",
  "x".repeat(65),
  "x".repeat(200),
  "nul\0byte",
  "new\nline",
  "tab\tname",
  "-leading-dash",
  "_leading",
  ".hidden",
  "space name",
  "ümlaut",
  "\u202eevil",
  "a\x1b[31m",
];

describe("names", () => {
  test("hostile names are refused with LW_BAD_NAME, never turned into a path", () => {
    for (const name of hostile) {
      assert.equal(isValidName(name), false, JSON.stringify(name));
      assert.throws(
        () => checkName("origin", name),
        (e: unknown) => e instanceof LogwardError && e.code === "LW_BAD_NAME",
      );
      assert.throws(() => streamDir("/store", name, "main"), LogwardError);
      assert.throws(() => streamDir("/store", "ok", name), LogwardError);
    }
  });

  test("the refusal message shows the name safely", () => {
    try {
      checkName("origin", "a\x1b]0;x\x07\u202e");
      assert.fail("should throw");
    } catch (err) {
      const msg = (err as Error).message;
      assert.doesNotMatch(msg, /[\x00-\x1f\u202e]/u);
    }
  });

  test("valid names: Qubes VM names, dispNNNN, dots, dashes, 64 characters", () => {
    for (const name of ["work", "sys-net", "disp1234", "a", "A.b_c-d", "x".repeat(64), "0day"]) {
      assert.equal(isValidName(name), true, name);
      assert.equal(streamDir("/store", name, "main"), join("/store/origins", name, "main"));
    }
  });

  test("any name that passes stays inside <store>/origins", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), fc.string({ maxLength: 70 }), (o, s) => {
        let dir: string;
        try {
          dir = streamDir("/store", o, s);
        } catch (err) {
          assert.ok(err instanceof LogwardError);
          return;
        }
        assert.ok(dir.startsWith("/store/origins/"));
        assert.equal(dir, `/store/origins/${o}/${s}`);
      }),
      { numRuns: 2000 },
    );
  });
});
