import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { tempDir } from "./helpers/tmp.ts";

test("logward demo: three VMs through the real ingest path, hostile content shown escaped", async () => {
  const store = join(tempDir(), "demo");
  const r = await logward(["demo", "--store", store]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString("latin1");
  // nothing a terminal interprets: no C0 control but LF, no DEL, no C1 byte, no bidi override
  assert.doesNotMatch(out, /[\x00-\x09\x0b-\x1f\x7f]/);
  assert.ok(!r.stdout.toString("utf8").includes("\u202e"), "bidi override escaped");
  assert.match(out, /\. \\x1b\[2J\\x1b\[31mANSI/);
  assert.match(out, /\. \\x1b\]0;owned\\x07OSC/);
  assert.match(out, /\. a forged newline follows\\r2026-11-25T00:00:00\.000000Z 1 !close/);
  assert.match(out, /\. invalid UTF-8: \\xff\\xfe\\xc0\\xaf and a bidi override \\u202e/);
  assert.match(out, /!trunc seq=8 kept=1024 received=3018 /);
  assert.match(out, /_HOSTNAME=work/);
  for (const row of [/^work +app +12 /m, /^personal +journal +4 /m, /^disp4711 +main +8 /m])
    assert.match(out, row);
  const ids = [...out.matchAll(/!open session=(\w+) transport=qrexec-exec format=lines/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, 3, "work and two disposables with one name: three sessions");
  assert.match(out, new RegExp(`The store is ${store}`));
  assert.ok(existsSync(join(store, "origins", "disp4711", "main")));
  // the store keeps the original bytes
  const raw = await logward(["show", "--store", store, "work/app", "--raw"]);
  assert.ok(raw.stdout.includes(Buffer.from("\x1b]0;owned\x07OSC")));
  assert.ok(raw.stdout.includes(Buffer.from([0xff, 0xfe, 0xc0, 0xaf])));
  // ...and the last line comes back as it was sent: without a newline (its !nolf record)
  assert.match(out, /!nolf seq=11 session=\w+\n\S+ 11 \. the last line has no newline/);
  assert.ok(raw.stdout.toString("latin1").endsWith("the last line has no newline, and is still a record"));
});
