// logward rm: through the running collector and alone; confirmation; the trail of deletions in
// the collector's own origin, which rm cannot delete; a stream with a live session is kept.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Store } from "../src/store/store.ts";
import { logward, onTerminal } from "./helpers/cli.ts";
import { ingest, rawSession, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

test("logward rm: confirmed, recorded in _logward/deletions, through the collector or alone", async () => {
  const store = join(tempDir(), "store");
  let d = await serve(store, `[store]\nsegment_size = "64KiB"\n`);
  try {
    for (const [origin, stream] of [
      ["work", "app"],
      ["work", "audit"],
      ["disp7", "main"],
    ] as const) {
      const r = await ingest(store, "lines", `${"x".repeat(100)}\n`.repeat(2000), {
        QREXEC_REMOTE_DOMAIN: origin,
        QREXEC_SERVICE_ARGUMENT: stream,
      });
      assert.equal(r.code, 0, r.stderr);
    }
    // no terminal and no --yes: refused, nothing deleted
    const ask = await logward(["rm", "work/app", "--store", store]);
    assert.equal(ask.code, 2);
    assert.match(ask.stderr, /needs confirmation; run it on a terminal or add --yes/);
    assert.ok(existsSync(join(store, "origins", "work", "app")));
    // the trail cannot be deleted
    const trail = await logward(["rm", "_logward", "--yes", "--store", store]);
    assert.equal(trail.code, 2);
    assert.match(trail.stderr, /keeps the trail of deletions and cannot be deleted/);
    // a stream with a live session is not deleted under it
    const live = rawSession(
      join(store, "run", "ingest.sock"),
      "logward-relay 1 lines disp7 main\nstill here\n",
      true,
    );
    await new Promise((r) => setTimeout(r, 300));
    const busy = await logward(["rm", "disp7", "--yes", "--store", store]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /disp7\/main is receiving records right now/);
    live.socket.end();
    await live.done;
    // through the running collector
    const one = await logward(["rm", "work/app", "--yes", "--store", store]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(
      one.stdout.toString(),
      /^Deleted 2002 records \(.+\) of work\/app; recorded in _logward\/deletions\.$/m,
    );
    assert.equal(existsSync(join(store, "origins", "work", "app")), false);
    assert.ok(existsSync(join(store, "origins", "work", "audit")), "the other stream stays");
    // --before: whole segments older than the time go, the rest stays
    const old = await logward(["rm", "work/audit", "--before", "now", "--yes", "--store", store]);
    assert.equal(old.code, 0, old.stderr);
    const audit = await readAll(store, "work", "audit");
    assert.ok(
      audit.some(
        (r) => r.kind === "!evict" && /^reason=deleted by=\S+ first_seq=1 /.test(r.payload.toString()),
      ),
    );
  } finally {
    await d.stop();
  }
  // alone: no collector runs
  const alone = await logward(["rm", "disp7", "--yes", "--store", store]);
  assert.equal(alone.code, 0, alone.stderr);
  assert.equal(
    existsSync(join(store, "origins", "disp7")),
    false,
    "the origin's directory goes with its last stream",
  );
  const deletions = (await readAll(store, "_logward", "deletions")).map((r) => r.payload.toString());
  assert.equal(deletions.length, 3);
  assert.match(deletions[0]!, /^deleted=work\/app records=2002 bytes=\d+ before=all by=\S+\(uid:\d+\)$/);
  assert.match(deletions[1]!, /^deleted=work\/audit records=\d+ bytes=\d+ before=\d{4}-\d\d-\d\dT\S+Z by=/);
  assert.match(deletions[2]!, /^deleted=disp7\/main records=\d+ bytes=\d+ before=all by=/);
  // and the collector starts again on the store as it was left
  d = await serve(store);
  assert.equal(await d.stop(), 0);
  const ls = await logward(["ls", "--store", store]);
  assert.doesNotMatch(ls.stdout.toString(), /^(disp7|work +app)/m);
});

test("logward rm on a terminal asks first and deletes only when 'yes' is typed", async () => {
  const root = join(tempDir(), "store");
  const store = await Store.open(root);
  const w = await store.stream("work", "app");
  w.appendRecords([Buffer.from("one"), Buffer.from("two"), Buffer.from("three")]);
  await store.flush();
  await store.close();
  for (const answer of ["no", "y", ""]) {
    const r = await onTerminal(["rm", "work/app", "--store", root], `${answer}\n`);
    assert.equal(r.code, 1, r.screen);
    assert.match(r.screen, /Delete all 3 records \(.+\) of work\/app\? .*Type 'yes' to delete:/);
    assert.match(r.screen, /nothing was deleted: the answer was not 'yes'/);
    assert.equal((await readAll(root, "work", "app")).length, 3, `answer ${JSON.stringify(answer)}`);
  }
  const yes = await onTerminal(["rm", "work/app", "--store", root], "yes\n");
  assert.equal(yes.code, 0, yes.screen);
  assert.match(yes.screen, /Deleted 3 records \(.+\) of work\/app; recorded in _logward\/deletions\./);
  assert.equal(existsSync(join(root, "origins", "work")), false);
  const trail = (await readAll(root, "_logward", "deletions")).map((r) => r.payload.toString());
  assert.equal(trail.length, 1);
  assert.match(trail[0]!, /^deleted=work\/app records=3 bytes=\d+ before=all by=\S+$/);
});

test("logward rm of a blob stream: objects go with the segments that announced them, recorded by name", async () => {
  const store = join(tempDir(), "store");
  const env = { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "logs" };
  const dir = join(store, "origins", "work", "logs");
  const objects = () => (existsSync(join(dir, "objects")) ? readdirSync(join(dir, "objects")).sort() : []);
  const sealed = () =>
    existsSync(join(dir, "index.json"))
      ? (JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { segments: unknown[] }).segments.length
      : 0;
  const bodies = ["first object\n", "second object\n", "third object\n"].map((t) => Buffer.from(t));
  const name = (b: Buffer) => `${createHash("sha256").update(b).digest("hex")}.zst`;
  // a segment is sealed a second or two after its first record: one object per segment
  let d = await serve(store, `[store]\nsegment_age = "1s"\n`);
  const cut: string[] = [];
  try {
    for (const [k, body] of bodies.entries()) {
      assert.equal((await ingest(store, "blob", body, env)).code, 0);
      if (k < 2) {
        await until(`segment ${k + 1} sealed`, () => sealed() === k + 1, { everyMs: 50 });
        cut.push(new Date(Date.now() + 5).toISOString());
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  } finally {
    await d.stop();
  }
  assert.deepEqual(objects(), bodies.map(name).sort());
  // alone (no collector): the first segment and its object go at once, not at the next restart
  const alone = await logward(["rm", "work/logs", "--before", cut[0]!, "--yes", "--store", store]);
  assert.equal(alone.code, 0, alone.stderr);
  assert.match(alone.stdout.toString(), /^Deleted 3 records and 1 object \(.+\) of work\/logs;/);
  assert.deepEqual(objects(), [name(bodies[1]!), name(bodies[2]!)].sort());
  // through the running collector: the second
  d = await serve(store, `[store]\nsegment_age = "1s"\n`);
  try {
    const via = await logward(["rm", "work/logs", "--before", cut[1]!, "--yes", "--store", store]);
    assert.equal(via.code, 0, via.stderr);
    assert.match(via.stdout.toString(), /^Deleted \d+ records and 1 object /);
    assert.deepEqual(objects(), [name(bodies[2]!)]);
    const gone = await logward(["get", "work/logs", "5", "--store", store]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /has no record 5/);
  } finally {
    await d.stop();
  }
  const logs = (await readAll(store, "work", "logs")).map((r) => `${r.kind} ${r.payload}`);
  const sha = (b: Buffer) => name(b).slice(0, -4);
  for (const [k, seq] of [
    [0, 2],
    [1, 5],
  ] as const)
    assert.ok(
      logs.some((l) =>
        new RegExp(
          `^!evict reason=deleted by=\\S+ objects=1 seq=${seq} sha256=${sha(bodies[k]!)} size=\\d+ type=text `,
        ).test(l),
      ),
      logs.join("\n"),
    );
  // the whole stream: objects/ goes with it
  const all = await logward(["rm", "work/logs", "--yes", "--store", store]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout.toString(), /and 1 object /);
  assert.equal(existsSync(dir), false);
  const trail = (await readAll(store, "_logward", "deletions")).map((r) => r.payload.toString());
  const byName = (k: number) =>
    trail.filter(
      (t) => t.startsWith(`deleted_object=work/logs objects=1 `) && t.includes(`sha256=${sha(bodies[k]!)}`),
    );
  assert.deepEqual([byName(0).length, byName(1).length, byName(2).length], [1, 1, 1], trail.join("\n"));
  assert.equal(
    trail.filter((t) =>
      /^deleted=work\/logs records=\d+ bytes=\d+ objects=1 object_bytes=\d+ before=/.test(t),
    ).length,
    3,
  );
  // restarting finds nothing left to clean up silently
  d = await serve(store);
  assert.equal(await d.stop(), 0);
});
