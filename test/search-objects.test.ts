// logward search inside objects: text objects sent through the real `ingest --format blob` into
// a real `logward serve` are searched line by line (escaped like stored records), other objects
// are named as skipped; plain strings, --regex, --count, --json and time windows alike.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const DANGEROUS = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

/** Output that is valid UTF-8 and holds no character a terminal or viewer would act on. */
function assertInert(out: Buffer, label: string): string {
  const text = out.toString();
  assert.ok(Buffer.from(text, "utf8").equals(out), `${label}: valid UTF-8`);
  assert.doesNotMatch(text.replaceAll("\n", ""), DANGEROUS, label);
  return text;
}

const env = (stream: string, origin = "work") => ({
  QREXEC_REMOTE_DOMAIN: origin,
  QREXEC_SERVICE_ARGUMENT: stream,
});
const TIME = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z";

test("search looks inside text objects, escaped, and names the objects it skipped", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store);
  const lines = ["line one", "NEEDLE first", "hay"];
  lines.push("NEEDLE \x1b[31mred \u202eevil\u2066 bell\x07\r");
  for (let i = 5; i < 1000; i++) lines.push(`hay ${i}`);
  lines.push("NEEDLE last, without LF");
  const text = Buffer.from(lines.join("\n"));
  let tMid: string;
  try {
    const put = async (format: string, body: Buffer | string, stream: string) => {
      const r = await ingest(store, format, body, env(stream));
      assert.equal(r.code, 0, r.stderr);
    };
    await put("lines", "NEEDLE in a record\nhay\n", "app");
    // NEEDLE in a binary object and inside a gzip one: neither is looked into
    await put("blob", Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from("NEEDLE\n")]), "bin");
    await put("blob", gzipSync("NEEDLE in gzip\n"), "gz");
    await new Promise((r) => setTimeout(r, 20));
    tMid = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await put("blob", text, "logs");
  } finally {
    await d.stop();
  }
  const run = (...args: string[]) => logward(["search", ...args, "--store", store]);
  const skippedLine =
    "logward: 2 objects were not searched: work/bin 2 (binary), work/gz 2 (gzip); only text objects are searched ('logward get ORIGIN/STREAM SEQ' gives an object's bytes).\n";

  const all = await run("NEEDLE");
  assert.equal(all.code, 0, all.stderr);
  const out = assertInert(all.stdout, "search NEEDLE");
  const want = [
    `work/app ${TIME} 2 \\. NEEDLE in a record`,
    `work/logs ${TIME} 2:L2 NEEDLE first`,
    `work/logs ${TIME} 2:L4 NEEDLE \\\\x1b\\[31mred \\\\u202eevil\\\\u2066 bell\\\\x07\\\\r`,
    `work/logs ${TIME} 2:L1000 NEEDLE last, without LF`,
  ];
  const got = out.trimEnd().split("\n");
  assert.equal(got.length, want.length, out);
  for (const [k, re] of want.entries()) assert.match(got[k]!, new RegExp(`^${re}$`));
  assert.equal(all.stderr, skippedLine);

  // the escaped form matches, as in stored records; regex and ignore-case too
  const esc = await run("\\x1b[31m");
  assert.match(esc.stdout.toString(), /^work\/logs \S+ 2:L4 NEEDLE /);
  const re = await run("^NEEDLE (first|last)", "--regex");
  assert.deepEqual(
    re.stdout
      .toString()
      .trimEnd()
      .split("\n")
      .map((l) => l.split(" ")[2]),
    ["2:L2", "2:L1000"],
  );

  // --count: record and object-line hits per stream, the skipped objects, the total; the same
  // whichever way the pattern is matched
  const count = "work/app 1\nwork/logs 3\nobjects-skipped 2\ntotal 4\n";
  for (const args of [["NEEDLE"], ["NEEDLE", "--regex"], ["needle", "--ignore-case"]]) {
    const c = await run(...args, "--count");
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout.toString(), count, args.join(" "));
    assert.equal(c.stderr, skippedLine);
  }

  // --json: objects hits with object_seq and line, then what was skipped
  const json = await run("NEEDLE", "--json");
  const rows = json.stdout
    .toString()
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(rows.length, 5);
  assert.deepEqual(
    rows.slice(1, 4).map((r) => [r.origin, r.stream, r.kind, r.object_seq, r.line]),
    [
      ["work", "logs", "object-line", 2, 2],
      ["work", "logs", "object-line", 2, 4],
      ["work", "logs", "object-line", 2, 1000],
    ],
  );
  assert.equal(rows[2].payload, "NEEDLE \\x1b[31mred \\u202eevil\\u2066 bell\\x07\\r");
  assert.match(rows[2].time, new RegExp(`^${TIME}$`));
  assert.deepEqual(rows[4], {
    kind: "objects-skipped",
    count: 2,
    objects: [
      { origin: "work", stream: "bin", seq: 2, type: "binary", reason: "not text" },
      { origin: "work", stream: "gz", seq: 2, type: "gzip", reason: "not text" },
    ],
  });

  // time windows: an object is in a window by its !blob record's time
  const before = await run("NEEDLE", "--until", tMid, "--count");
  assert.equal(before.stdout.toString(), "work/app 1\nobjects-skipped 2\ntotal 1\n");
  const after = await run("NEEDLE", "--since", tMid, "--count");
  assert.equal(after.stdout.toString(), "work/logs 3\ntotal 3\n");
  assert.equal(after.stderr, "");

  // only in an object: a hit (exit 0); nowhere: exit 1, and the skipped objects still named
  assert.equal((await run("hay 999")).code, 0);
  const none = await run("no such thing");
  assert.equal(none.code, 1);
  assert.equal(none.stdout.length, 0);
  assert.equal(none.stderr, skippedLine);
});

test("search inside a large text object: line numbers across chunks, a line longer than 1 MiB", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store);
  const parts: string[] = [];
  for (let i = 1; i <= 200_000; i++)
    parts.push(i === 77_777 || i === 150_000 ? `line ${i} NEEDLE` : `line ${i} hay`);
  // line 200001: 3 MiB long, the needle in its third MiB
  parts.push(`${"y".repeat(2.5 * 1024 * 1024)}NEEDLE${"y".repeat(512 * 1024)}`);
  parts.push("NEEDLE at the end");
  try {
    const r = await ingest(store, "blob", parts.join("\n"), env("big", "host2"));
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await d.stop();
  }
  const s = await logward(["search", "NEEDLE", "--store", store]);
  assert.equal(s.code, 0, s.stderr);
  const got = s.stdout
    .toString()
    .trimEnd()
    .split("\n")
    .map((l) => `${l.split(" ")[2]} ${l.length}`);
  assert.deepEqual(
    got.map((g) => g.split(" ")[0]),
    ["2:L77777", "2:L150000", "2:L200001", "2:L200002"],
  );
  // the long line is printed as the 1 MiB piece that holds the needle
  assert.ok(Number(got[2]!.split(" ")[1]) <= 1024 * 1024 + 100, got[2]);
  assert.equal(s.stderr, "");
});
