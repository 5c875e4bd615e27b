// Choosing streams by globs (query/select.ts) and where a follow starts (query/follow-from.ts):
// the rules `search`, `show -f` and the web UI share.

import assert from "node:assert/strict";
import { test } from "node:test";
import { followStarts } from "../src/query/follow-from.ts";
import { streamMatcher } from "../src/query/select.ts";

const ref = (origin: string, stream: string) => ({ origin, stream });

test("streamMatcher: both globs must match; a bad glob names the CLI option or the UI parameter", () => {
  const m = streamMatcher({ origin: "disp*", stream: "m?in" }, "--");
  assert.equal(m(ref("disp12", "main")), true);
  assert.equal(m(ref("disp12", "audit")), false);
  assert.equal(m(ref("work", "main")), false);
  assert.equal(streamMatcher({}, "--")(ref("any", "thing")), true);
  assert.equal(streamMatcher({ origin: null, stream: null }, "")(ref("any", "thing")), true);
  assert.throws(
    () => streamMatcher({ origin: "a/b" }, "--"),
    /^LogwardError: --origin must be a glob of letters, digits, '_', '\.', '-', '\*' and '\?'\.$/,
  );
  assert.throws(() => streamMatcher({ stream: "" }, ""), /^LogwardError: stream must be a glob/);
});

test("followStarts: after the end, the last n, after what was printed, after a given seq", () => {
  const refs = [ref("a", "x"), ref("b", "y")];
  const ends = new Map([
    ["a/x", 100],
    ["b/y", 5],
  ]);
  const next = (from?: Parameters<typeof followStarts>[2]) =>
    followStarts(refs, ends, from).map((s) => s.nextSeq);
  assert.deepEqual(next(), [101, 6]);
  assert.deepEqual(next({ tail: 10 }), [91, 1]);
  assert.deepEqual(next({ printed: new Map([["a/x", 120]]) }), [121, 6]);
  assert.deepEqual(next({ after: 0 }), [1, 1]);
  assert.deepEqual(
    followStarts([ref("c", "z")], ends).map((s) => s.nextSeq),
    [1],
  );
});
