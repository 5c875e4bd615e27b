// Sealing by the real `serve`: `seal init` prints the verification key once and refuses a second
// init unless --force (which is recorded); serve seals on its interval, at a segment seal and at
// shutdown; kill -9 leaves at most an unsealed tail, which the restarted collector seals; quota
// eviction keeps the store verifiable.

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const send = (store: string, text: string, origin = "work") =>
  ingest(store, "lines", text, { QREXEC_REMOTE_DOMAIN: origin, QREXEC_SERVICE_ARGUMENT: "main" });
const many = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => `${tag} ${i} ${"x".repeat(60)}`).join("\n") + "\n";

/** Every stored line of work/main, segments in order (compressed ones decompressed). */
function storedLines(store: string, origin = "work"): string[] {
  const d = join(store, "origins", origin, "main");
  return readdirSync(d)
    .filter((f) => /^\d+\.log/.test(f))
    .sort()
    .flatMap((f) => {
      const raw = readFileSync(join(d, f));
      return (f.endsWith(".zst") ? zstdDecompressSync(raw) : raw)
        .toString("latin1")
        .split("\n")
        .filter(Boolean);
    });
}

async function init(store: string, config: string, ...extra: string[]) {
  const file = join(store, "..", `seal-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, config);
  return logward(["seal", "init", "--store", store, "--config", file, ...extra]);
}

async function verify(store: string, key: string, ...extra: string[]) {
  const r = await logward(["verify", "--store", store, "--key", key, ...extra]);
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

/**
 * Restarts serve on a store left with an unsealed tail, sends a few records and stops it:
 * verify must then pass with nothing unsealed, and `kept` (a line sent before) still stored.
 */
async function restartSealsTail(store: string, config: string, key: string, kept: string): Promise<void> {
  const again = await serve(store, config);
  await send(store, many(5, "after the restart"));
  assert.equal(await again.stop(), 0);
  const r = await verify(store, key);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /not sealed yet/);
  assert.ok(storedLines(store).some((l) => l.includes(kept)));
}

test("seal init prints the key once as its last line, keeps 0600, refuses a second init without --force", async () => {
  const store = join(tempDir(), "store");
  const first = await init(store, "");
  assert.equal(first.code, 0, first.stderr);
  const out = first.stdout.toString().trim().split("\n");
  assert.match(out.at(-1)!, /^LWK1-[A-Z2-7]{5}(-[A-Z2-7]{1,5})+$/);
  const keyFile = join(store, "run", "seal.key");
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.ok(!readFileSync(keyFile, "utf8").includes(out.at(-1)!), "the verification key is not stored");
  const again = await init(store, "");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /LW_SEALED|sealed already/);
  assert.equal(again.stdout.length, 0, "no second key printed");
  const forced = await init(store, "", "--force");
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(forced.stdout.toString().trim(), out.at(-1));
  const events = readFileSync(
    join(
      store,
      "origins",
      "_logward",
      "events",
      readdirSync(join(store, "origins", "_logward", "events")).find((f) => f.endsWith(".log"))!,
    ),
    "utf8",
  );
  assert.match(
    events,
    /!note event=seal-init key=[0-9a-f]{16} epoch=1 epoch_length=900s force=1 previous_key=[0-9a-f]{16}/,
  );
});

test("serve seals on its interval, at a segment seal and at shutdown; verify passes", async () => {
  const store = join(tempDir(), "store");
  const key = (await init(store, '[seal]\ninterval = "1s"\n')).stdout.toString().trim();
  // interval: 1 s; segments of 64 KiB
  const d = await serve(store, '[seal]\ninterval = "1s"\n[store]\nsegment_size = "64KiB"\n');
  await send(store, many(10, "early"));
  await sleep(2500);
  const afterInterval = storedLines(store).filter((l) => / !seal /.test(l));
  assert.ok(afterInterval.length >= 1, "sealed within an interval, while serve runs");
  await send(store, many(3000, "bulk")); // about 200 KiB: segments sealed
  await sleep(300);
  const segs = readdirSync(join(store, "origins", "work", "main")).filter((f) => /^\d+\.log/.test(f));
  assert.ok(segs.length >= 3, "segments were sealed");
  assert.equal(await d.stop(), 0);
  const all = storedLines(store);
  assert.match(all.at(-1)!, / !seal epoch=\d+ /, "the last line after shutdown is a seal");
  const r = await verify(store, key);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /not sealed yet/);
});

test("a segment seal seals the stream without waiting for the interval", async () => {
  const store = join(tempDir(), "store");
  const key = (await init(store, "")).stdout.toString().trim();
  const d = await serve(store, '[store]\nsegment_size = "64KiB"\n'); // interval: 15 min
  await send(store, many(3000, "bulk"));
  await sleep(500);
  const seals = storedLines(store).filter((l) => / !seal /.test(l));
  assert.ok(seals.length >= 1, "a seal without any interval having passed");
  assert.equal(await d.stop(), 0);
  assert.equal((await verify(store, key)).code, 0);
});

test("kill -9: verify reports only an unsealed tail; the restarted collector seals it", async () => {
  const store = join(tempDir(), "store");
  const key = (await init(store, "")).stdout.toString().trim();
  const config = '[seal]\ninterval = "1h"\n';
  const d = await serve(store, config);
  await send(store, many(200, "before the crash"));
  d.proc.kill("SIGKILL");
  await new Promise((r) => d.proc.once("exit", r));
  const crashed = await verify(store, key);
  assert.equal(crashed.code, 0, crashed.err);
  assert.match(crashed.out, /newest records not sealed yet/);
  assert.equal((await verify(store, key, "--strict")).code, 1);
  await restartSealsTail(store, config, key, "before the crash 199");
});

test("quota eviction (drop-oldest) removes sealed segments on record: verify still passes", async () => {
  const store = join(tempDir(), "store");
  const key = (await init(store, '[seal]\ninterval = "1s"\n')).stdout.toString().trim();
  const d = await serve(
    store,
    '[seal]\ninterval = "1s"\n[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "work"\nquota = "256KiB"\non_quota = "drop-oldest"\n',
  );
  for (let i = 0; i < 6; i++) {
    await send(store, many(2000, `round${i}`));
    await sleep(300);
  }
  await sleep(1500);
  assert.equal(await d.stop(), 0);
  const first = readdirSync(join(store, "origins", "work", "main"))
    .filter((f) => /^\d+\.log/.test(f))
    .sort()[0]!;
  assert.notEqual(Number(first.slice(0, 20)), 1, "the oldest segments were evicted");
  const r = await verify(store, key);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /oldest records removed on record \(!evict\)/);
});

/** The newest plain segment of work/main. */
function activeSegment(store: string): string {
  const d = join(store, "origins", "work", "main");
  return join(
    d,
    readdirSync(d)
      .filter((f) => /^\d+\.log$/.test(f))
      .sort()
      .at(-1)!,
  );
}

test("kill -9 during sealing, the seal line torn: verify reports an unsealed tail; the restart seals it", async () => {
  const store = join(tempDir(), "store");
  const key = (await init(store, "")).stdout.toString().trim();
  const config = '[seal]\ninterval = "1h"\n';
  const d = await serve(store, config);
  await send(store, many(100, "sealed at shutdown"));
  assert.equal(await d.stop(), 0);
  // the write that carried the shutdown's seal stopped halfway through the seal line
  const f = activeSegment(store);
  const text = readFileSync(f, "latin1");
  const at = text.lastIndexOf(" !seal ");
  assert.ok(at > 0);
  writeFileSync(f, text.slice(0, at + 60), "latin1");
  const torn = await verify(store, key);
  assert.equal(torn.code, 0, torn.err);
  assert.match(torn.out, /newest records not sealed yet/);
  // and the key file's replacement cut short: a half-written run/seal.key.tmp beside the key
  writeFileSync(join(store, "run", "seal.key.tmp"), "logward-seal-key 1\nkey_id 00");
  await restartSealsTail(store, config, key, "sealed at shutdown 99");
});

test("kill -9 at any moment while serve seals every second: at most an unsealed tail, never tampering", async () => {
  const store = join(tempDir(), "store");
  const config = '[seal]\ninterval = "1s"\n[store]\nsegment_size = "64KiB"\n';
  const key = (await init(store, config)).stdout.toString().trim();
  for (let round = 0; round < 4; round++) {
    const d = await serve(store, config);
    const sending = send(store, many(3000, `round${round}`));
    await sleep(300 + Math.floor(Math.random() * 1500));
    d.proc.kill("SIGKILL");
    await new Promise((r) => d.proc.once("exit", r));
    await sending;
    const r = await verify(store, key);
    assert.equal(r.code, 0, `round ${round}: ${r.err}`);
  }
  const last = await serve(store, config);
  assert.equal(await last.stop(), 0);
  const r = await verify(store, key);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /not sealed yet/);
});
