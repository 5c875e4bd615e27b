// logward rm: through the running collector and alone; confirmation; the trail of deletions in
// the collector's own origin, which rm cannot delete; a stream with a live session is kept.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Store } from "../src/store/store.ts";
import { logward, onTerminal } from "./helpers/cli.ts";
import { ingest, rawSession, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

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
