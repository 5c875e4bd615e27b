// Faults (issue 21): a torn write in the files the store and the sender write that
// test/recovery.test.ts (the segment), test/spool.test.ts (the spool's segment tail),
// test/blob-crash.test.ts (objects and their temporaries) and test/seal-serve.test.ts (a torn
// seal line) do not cover: index.json, FORMAT, run/policy.json, the spool's state.json,
// run/seal.key and a checkpoint. A crash leaves a file cut short, zeroed or a half-written
// temporary beside it: recovery keeps everything acknowledged and nothing twice, or, where
// the file cannot be rebuilt (a key, a state that names the spool), says so in one sentence
// and touches nothing.
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Spool } from "../src/agent/spool.ts";
import { parsePolicyState } from "../src/store/policy-state.ts";
import { readIndex } from "../src/store/segment.ts";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

/** A store with sealed (compressed) segments and an active one; returns the payloads sent. */
async function fixture(root: string): Promise<string[]> {
  const store = await Store.open(root, { maxSegmentBytes: 4096 });
  const w = await store.stream("vm", "main");
  const sent: string[] = [];
  for (let i = 1; i <= 400; i++) {
    sent.push(`record ${i} ${"r".repeat(i % 30)}`);
    w.appendRecords([Buffer.from(sent.at(-1)!)]);
  }
  await store.idle();
  await store.close();
  return sent;
}

async function reopenAndAppend(root: string): Promise<void> {
  const store = await Store.open(root, { maxSegmentBytes: 4096 });
  const w = await store.stream("vm", "main");
  w.appendRecords([Buffer.from("after")]);
  await store.idle();
  await store.close();
}

async function assertExactly(root: string, payloads: string[]): Promise<void> {
  const recs = await readAll(root, "vm", "main");
  assert.deepEqual(
    recs.map((r) => r.payload.toString()),
    payloads,
  );
  assert.deepEqual(
    recs.map((r) => r.seq),
    payloads.map((_, i) => i + 1),
    "each record once, numbered on",
  );
}

test("fault: torn index.json (cut, zeroed, emptied, a torn .tmp beside it): every record once", async () => {
  const base = tempDir("logward-torn-index-");
  const pristine = join(base, "pristine");
  const sent = await fixture(pristine);
  const text = readFileSync(join(pristine, "origins/vm/main/index.json"));
  assert.ok((await readIndex(join(pristine, "origins/vm/main")))!.segments.length >= 5);
  const variants: [string, (dir: string) => void][] = [
    ["cut at a third", (d) => truncateSync(join(d, "index.json"), Math.floor(text.length / 3))],
    ["cut one byte short", (d) => truncateSync(join(d, "index.json"), text.length - 2)],
    ["emptied", (d) => truncateSync(join(d, "index.json"), 0)],
    ["zeroed", (d) => writeFileSync(join(d, "index.json"), Buffer.alloc(text.length))],
    ["a torn .tmp beside it", (d) => writeFileSync(join(d, "index.json.tmp"), text.subarray(0, 100))],
  ];
  for (const [name, tear] of variants) {
    const root = join(base, name.replace(/\W+/g, "-"));
    cpSync(pristine, root, { recursive: true });
    const dir = join(root, "origins/vm/main");
    tear(dir);
    // a reader before any writer: the files are the truth, the index only a shortcut
    await assertExactly(root, sent);
    await reopenAndAppend(root);
    await assertExactly(root, [...sent, "after"]);
    const index = await readIndex(dir);
    assert.ok(index && index.segments.length >= 5, `${name}: the index is whole again`);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
      name,
    );
  }
});

test("fault: torn FORMAT marker (empty or cut, as a crash at creation leaves it): the store opens", async () => {
  const base = tempDir("logward-torn-format-");
  const pristine = join(base, "pristine");
  const sent = await fixture(pristine);
  for (const cut of [0, 5, 20]) {
    const root = join(base, `cut-${cut}`);
    cpSync(pristine, root, { recursive: true });
    truncateSync(join(root, "FORMAT"), cut);
    const shown = await logward(["show", "vm/main", "--store", root]);
    assert.equal(shown.code, 0, `a reader accepts a torn marker (cut at ${cut}): ${shown.stderr}`);
    await reopenAndAppend(root);
    assert.equal(readFileSync(join(root, "FORMAT"), "latin1"), "logward store format 1\n", "written again");
    await assertExactly(root, [...sent, "after"]);
  }
  // another program's file is still refused
  const other = join(base, "other");
  cpSync(pristine, other, { recursive: true });
  writeFileSync(join(other, "FORMAT"), "something else\n");
  await assert.rejects(Store.open(other), /not a logward format marker/);
});

test("fault: torn run/policy.json: serve starts, polices as configured and writes it whole again", {
  timeout: 60_000,
}, async () => {
  const store = join(tempDir("logward-torn-policy-"), "store");
  const config = `[[policy]]\nmatch = "vm"\nquota = "10MiB"\n`;
  const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
  let d = await serve(store, config);
  assert.equal((await ingest(store, "lines", "one\ntwo\n", env)).code, 0);
  await d.stop();
  const path = join(store, "run/policy.json");
  const whole = readFileSync(path);
  for (const torn of [
    whole.subarray(0, Math.floor(whole.length / 2)),
    Buffer.alloc(whole.length),
    Buffer.alloc(0),
  ]) {
    writeFileSync(path, torn);
    const ls = await logward(["ls", "--store", store]);
    assert.equal(ls.code, 0, `ls reads past a torn policy.json: ${ls.stderr}`);
    d = await serve(store, config);
    assert.equal((await ingest(store, "lines", "more\n", env)).code, 0);
    for (let i = 0; i < 50 && parsePolicyState(readFileSync(path, "utf8")) === null; i++) await sleep(100);
    await d.stop();
    assert.ok(parsePolicyState(readFileSync(path, "utf8")), "policy.json is whole again");
  }
  const shown = await logward(["show", "vm/main", "--store", store]);
  assert.match(shown.stdout.toString(), /one\n[\s\S]*two\n[\s\S]*more\n[\s\S]*more\n[\s\S]*more\n/);
});

const spoolOpts = { maxBytes: 64 * 1024 * 1024, policy: "drop-oldest" as const };

test("fault: torn spool state.json (a torn .tmp beside it, or the file itself): nothing committed lost or doubled", async () => {
  const dir = tempDir("logward-torn-spool-");
  const s = await Spool.open(dir, spoolOpts);
  for (let i = 1; i <= 100; i++) s.append(Buffer.from(`r${i}`));
  s.setPosition("file:/x", { ino: 7, offset: 1234 });
  await s.close();
  const state = readFileSync(join(dir, "state.json"));
  // a crash while state.json was rewritten: only its temporary can be torn
  writeFileSync(join(dir, "state.json.tmp"), state.subarray(0, 7));
  const t = await Spool.open(dir, spoolOpts);
  assert.equal(t.lastSeq, 100, "every committed record is still there");
  assert.deepEqual(t.position("file:/x"), { ino: 7, offset: 1234 });
  t.append(Buffer.from("r101"));
  await t.close();
  const u = await Spool.open(dir, spoolOpts);
  assert.equal(u.lastSeq, 101, "numbering goes on, nothing twice");
  await u.close();
  // the file itself torn (a file system without atomic rename): refused in one sentence, the
  // segments left alone for a person to look at, never a new spool id over old records
  const segments = readdirSync(dir).filter((f) => f !== "state.json" && f !== "run");
  writeFileSync(join(dir, "state.json"), state.subarray(0, 7));
  await assert.rejects(Spool.open(dir, spoolOpts), (err: Error) => {
    assert.match(err.message, /state\.json is damaged; move the directory away/);
    assert.equal(err.message.split("\n").length, 1);
    return true;
  });
  assert.deepEqual(
    readdirSync(dir).filter((f) => f !== "state.json" && f !== "run"),
    segments,
  );
});

test("fault: torn run/seal.key and a torn checkpoint: refused in one sentence, nothing lost; a torn .tmp is ignored", {
  timeout: 60_000,
}, async () => {
  const base = tempDir("logward-torn-seal-");
  const store = join(base, "store");
  const cfgFile = join(base, "c.toml");
  const config = '[seal]\ninterval = "1s"\n';
  writeFileSync(cfgFile, config);
  const init = await logward(["seal", "init", "--store", store, "--config", cfgFile]);
  assert.equal(init.code, 0, init.stderr);
  const key = init.stdout.toString().trim().split("\n").at(-1)!;
  const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
  const keyPath = join(store, "run/seal.key");
  const keyText = readFileSync(keyPath);

  // a torn temporary of a key rotation beside the key: ignored
  writeFileSync(`${keyPath}.tmp`, keyText.subarray(0, 20));
  let d = await serve(store, config);
  assert.equal((await ingest(store, "lines", "first\n", env)).code, 0);
  await sleep(1500);
  await d.stop();
  assert.equal((await logward(["verify", "--store", store, "--key", key])).code, 0);

  // the key itself torn: serve refuses in one sentence, and the records stay
  const now = readFileSync(keyPath);
  writeFileSync(keyPath, now.subarray(0, Math.floor(now.length / 2)));
  const refused = await serve(store, config).then(
    async (dd) => {
      await dd.stop();
      return "started";
    },
    (err: Error) => err.message,
  );
  assert.match(refused, /sealing key file .*seal\.key is damaged/);
  writeFileSync(keyPath, now);
  d = await serve(store, config);
  assert.equal((await ingest(store, "lines", "second\n", env)).code, 0);
  await sleep(1500);
  await d.stop();
  assert.match(
    (await logward(["show", "vm/main", "--store", store])).stdout.toString(),
    /first\n[\s\S]*second\n/,
  );

  // a checkpoint cut short (a crash while the checkpoint command wrote it): verify says so
  const cp = await logward(["checkpoint", "--store", store]);
  assert.equal(cp.code, 0, cp.stderr);
  const cpFile = join(base, "checkpoint.json");
  writeFileSync(cpFile, cp.stdout.subarray(0, Math.floor(cp.stdout.length / 2)));
  const v = await logward(["verify", "--store", store, "--key", key, "--checkpoint", cpFile]);
  assert.notEqual(v.code, 0);
  assert.equal(v.stderr.trim().split("\n").length, 1, v.stderr);
  assert.match(v.stderr, /checkpoint/);
  writeFileSync(cpFile, cp.stdout);
  assert.equal((await logward(["verify", "--store", store, "--key", key, "--checkpoint", cpFile])).code, 0);
  rmSync(`${keyPath}.tmp`, { force: true });
});
