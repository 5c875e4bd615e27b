// logward open with a stand-in viewer: it sees a private file with the selection (escaped by
// default, the sender's bytes with --raw), and the file is gone once the viewer exits.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

test("logward open: the viewer for the stream's type gets a private copy, removed afterwards", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const d = await serve(store);
  try {
    const input = Buffer.concat([Buffer.from("ok line\n\x1b]0;owned\x07 evil "), Buffer.from([0xff, 0x0a])]);
    const r = await ingest(store, "lines", input, { QREXEC_REMOTE_DOMAIN: "work" });
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await d.stop();
  }
  // the stand-in viewer keeps what it was given: the path, its mode, and the content
  const seen = join(dir, "seen");
  const viewer = join(dir, "viewer.sh");
  writeFileSync(
    viewer,
    `#!/bin/sh\nstat -c %a "$1" > '${seen}.mode'\ncp "$1" '${seen}.content'\necho "$1" > '${seen}.path'\n`,
    {
      mode: 0o755,
    },
  );
  const config = join(dir, "logward.toml");
  writeFileSync(config, `[viewers]\nlines = ["${viewer}", "{file}"]\n`);
  const r = await logward(["open", "work/main", "--store", store, "--config", config]);
  assert.equal(r.code, 0, r.stderr);
  const path = readFileSync(`${seen}.path`, "utf8").trim();
  assert.equal(existsSync(path), false, "the file is removed after the viewer exits");
  assert.equal(readFileSync(`${seen}.mode`, "utf8").trim(), "600");
  const content = readFileSync(`${seen}.content`, "latin1");
  assert.match(content, / \. ok line\n/);
  assert.match(content, / \. \\x1b\]0;owned\\x07 evil \\xff\n/);
  assert.doesNotMatch(content, /[\x00-\x09\x0b-\x1f\x7f-\xff]/, "escaped: nothing a viewer would interpret");
  // --raw: the sender's bytes, only its records
  const raw = await logward(["open", "work/main", "--raw", "--store", store, "--config", config]);
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(readFileSync(`${seen}.content`, "latin1"), "ok line\n\x1b]0;owned\x07 evil \xff\n");
  // named for what it holds: never ".raw", which desktop MIME databases take for a camera image
  assert.match(path, /\/work-main\.log$/);
  assert.match(readFileSync(`${seen}.path`, "utf8").trim(), /\/work-main-raw\.log$/);
  // raw bytes are never handed to an unconfigured local viewer
  writeFileSync(join(dir, "empty.toml"), "");
  const none = await logward(
    ["open", "work/main", "--raw", "--store", store, "--config", join(dir, "empty.toml")],
    {
      PATH: "/usr/bin:/bin",
    },
  );
  assert.equal(none.code, 2);
  assert.match(
    none.stderr,
    /No viewer is configured for raw lines data and qvm-open-in-dvm is not installed/,
  );
});
