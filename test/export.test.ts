// logward export → verify-export round trip; a tampered or cut archive is caught; --to-vm runs
// the configured copy command.
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { logward, onTerminal } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

test("export and verify-export: the selection, a manifest with SHA-256, tampering detected", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const d = await serve(store, `[store]\nsegment_size = "64KiB"\n`);
  try {
    for (const origin of ["work", "personal", "other"]) {
      const input = Buffer.concat([
        Buffer.from(`${origin} ok\n\x1b]0;owned\x07 evil `),
        Buffer.from([0xff, 0x0a]),
        Buffer.from(`${"y".repeat(80)}\n`.repeat(2000)),
      ]);
      const r = await ingest(store, "lines", input, { QREXEC_REMOTE_DOMAIN: origin });
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    await d.stop();
  }
  const file = join(dir, "evidence.tar.zst");
  const ex = await logward(["export", "work", "personal", "-o", file, "--store", store]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout.toString(), /^Exported 4008 records of 2 streams to .*evidence\.tar\.zst\.$/m);
  assert.equal(ex.stderr, "", "piped: no progress output");
  const ok = await logward(["verify-export", file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, "");
  // on a terminal (script(1) gives it one): a progress line, erased at the end
  const tty = await onTerminal(["verify-export", file]);
  assert.equal(tty.code, 0, tty.screen);
  assert.match(tty.screen, /\rverifying \[#+\.*\] \d+% [\d.]+ \w+\/[\d.]+ \w+\x1b\[K/);
  assert.match(tty.screen, /\r\x1b\[K.*OK, 2 streams/s);
  assert.match(ok.stdout.toString(), /OK, 2 streams, 4008 records; every SHA-256 matches the manifest/);

  // what is inside: README, manifest, and each stream exactly as 'show' prints it
  const tar = zstdDecompressSync(readFileSync(file));
  const text = tar.toString("latin1");
  assert.match(text, /This archive was written by logward export/);
  const manifest = JSON.parse(/\{\n {2}"format": "logward-export 1"[\s\S]*?\n\}\n/.exec(text)![0]);
  assert.deepEqual(manifest.members.map((m: { path: string }) => m.path).sort(), [
    "origins/personal/main.log",
    "origins/work/main.log",
  ]);
  const show = await logward(["show", "work/main", "--store", store]);
  const work = manifest.members.find((m: { origin: string }) => m.origin === "work");
  assert.equal(work.records, 2004);
  assert.ok(tar.includes(show.stdout), "the member is the stream as show prints it");
  assert.doesNotMatch(text.replace(/[\0]/g, ""), /\x1b/, "escaped: no raw escape in the archive");

  // one byte changed inside a member: found, and named
  const at = tar.indexOf(Buffer.from("yyyy", "latin1"), tar.indexOf(Buffer.from("origins")));
  const bad = Buffer.from(tar);
  bad[at] = 0x7a;
  writeFileSync(join(dir, "tampered.tar.zst"), zstdCompressSync(bad));
  const t = await logward(["verify-export", join(dir, "tampered.tar.zst")]);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /does not verify: the member origins\/\w+\/main\.log does not match its SHA-256/);
  // cut short
  writeFileSync(join(dir, "cut.tar.zst"), zstdCompressSync(tar.subarray(0, tar.length - 3000)));
  const c = await logward(["verify-export", join(dir, "cut.tar.zst")]);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /does not verify/);
  assert.equal(c.stderr.trim().split("\n").length, 1);

  // --to-vm: the configured copy command gets the qube and the file
  const copied = join(dir, "copied.tar.zst");
  const copy = join(dir, "copy.sh");
  writeFileSync(copy, `#!/bin/sh\n[ "$1" = "vault" ] || exit 3\ncp "$2" '${copied}'\n`, { mode: 0o755 });
  const config = join(dir, "logward.toml");
  writeFileSync(config, `[export]\ncopy_command = ["${copy}", "{vm}", "{file}"]\n`);
  const vm = await logward(["export", "other", "--to-vm", "vault", "--config", config, "--store", store]);
  assert.equal(vm.code, 0, vm.stderr);
  assert.match(vm.stdout.toString(), /to the qube vault\./);
  const again = await logward(["verify-export", copied]);
  assert.equal(again.code, 0, again.stderr);
});

test("a stored line edited on disk to hold raw control bytes is exported escaped again, as show prints it", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const d = await serve(store);
  try {
    const r = await ingest(store, "lines", "clean\n", { QREXEC_REMOTE_DOMAIN: "edited" });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await d.stop();
  }
  const sdir = join(store, "origins", "edited", "main");
  const seg = join(sdir, readdirSync(sdir).find((f) => f.endsWith(".log"))!);
  const [time, seq] = readFileSync(seg, "latin1").trimEnd().split("\n").at(-1)!.split(" ");
  // someone with write access to the store put raw ESC, BEL and a bidi override in a new line
  appendFileSync(seg, Buffer.from(`${time} ${Number(seq) + 1} . café \x1b]0;x\x07 \u202e end\n`, "utf8"));
  const file = join(dir, "edited.tar.zst");
  const ex = await logward(["export", "edited", "-o", file, "--store", store]);
  assert.equal(ex.code, 0, ex.stderr);
  const ok = await logward(["verify-export", file]);
  assert.equal(ok.code, 0, ok.stderr);
  const show = await logward(["show", "edited/main", "--store", store]);
  assert.match(show.stdout.toString(), /\. café \\x1b\]0;x\\x07 \\u202e end\n$/);
  const tar = zstdDecompressSync(readFileSync(file));
  assert.ok(tar.includes(show.stdout), "the member is the stream as show prints it");
  assert.doesNotMatch(tar.toString("latin1"), /\x1b/, "no raw escape in the archive");
});
