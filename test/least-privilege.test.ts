// Least privilege (issue 21): `serve` refuses root without --allow-root, and runs as an
// unprivileged user on a store that user owns.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, logward } from "./helpers/cli.ts";
import { ingest } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

test("serve as root without --allow-root refuses, in one sentence saying why and what to do", async (t) => {
  if (!asRoot) return t.skip("this test runs as root only (CI does); as another user serve starts");
  const store = join(tempDir(), "store");
  const r = await logward(["serve", "--store", store], { LOGWARD_UI_PORT: "off" });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /refuses to run as root/);
  assert.match(r.stderr, /'logward' user/);
  assert.match(r.stderr, /--allow-root/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.equal(existsSync(join(store, "run", "ingest.sock")), false, "nothing listens");
});

test("serve run as an unprivileged user (nobody) on a store it owns collects", async (t) => {
  if (!asRoot) return t.skip("starting serve as another user needs root");
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const store = join(dir, "store");
  mkdirSync(store, { mode: 0o750 });
  chownSync(store, NOBODY, NOBODY);
  const proc = spawn(process.execPath, [BIN, "serve", "--store", store], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, LOGWARD_UI_PORT: "0", HOME: "/nonexistent" },
  });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 15_000);
    proc.stdout.on("data", () => {
      if (/ready/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  const r = await ingest(store, "lines", "as nobody\n", {
    QREXEC_REMOTE_DOMAIN: "work",
    QREXEC_SERVICE_ARGUMENT: "main",
  });
  assert.equal(r.code, 0, r.stderr);
  proc.kill("SIGTERM");
  assert.equal(await exited, 0, out);
  const show = await logward(["show", "--store", store, "work/main"]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout.toString(), /as nobody/);
});
