// Faults (issue 21): kill -9 of the collector again and again while a file grows and is
// shipped through the real path (`logward ship` → `logward ingest` as qrexec runs it → `logward
// serve`), and of the sender every tenth time: the stored stream equals the file exactly,
// every line once, in order, no gap. KILLS sets the number of kills (default 20, about half a
// minute); `npm run soak` runs it with KILLS=100 (or the KILLS given) and no time limit.
import assert from "node:assert/strict";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN, logward } from "./helpers/cli.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const KILLS = Number(process.env.KILLS ?? 20);
const LINES_PER_STEP = 2000;

const { killPair } = tracked();

/** Lines with numbers, escapes, CRs and an empty one now and then: one record each. */
function lines(from: number, to: number): Buffer {
  const parts: string[] = [];
  for (let i = from; i < to; i++) parts.push(i % 997 === 0 ? "" : `${i} \x1b[31m ${"y".repeat(i % 60)}\r`);
  return Buffer.from(`${parts.join("\n")}\n`, "latin1");
}

function via(store: string): string {
  return `QREXEC_REMOTE_DOMAIN=work QREXEC_SERVICE_ARGUMENT=app '${process.execPath}' '${BIN}' ingest --format agent --store '${store}'`;
}

test("fault: kill -9 of the collector again and again (of the sender at every tenth kill) while a file grows: the stream equals the file", {
  timeout: KILLS <= 20 ? 120_000 : Number.POSITIVE_INFINITY,
}, async () => {
  const dir = tempDir("logward-kill9-");
  const store = join(dir, "store");
  const file = join(dir, "app.log");
  const args = ["--file", file, "--stream", "app", "--via", via(store), "--spool", join(dir, "spool")];
  writeFileSync(file, lines(0, LINES_PER_STEP));
  const pair = await killPair(store, args);
  let written = LINES_PER_STEP;
  const killed = { serve: 0, ship: 0 };
  for (let k = 1; k <= KILLS; k++) {
    // the file grows while the kills happen, by a random amount at a random moment
    const more = Math.floor(LINES_PER_STEP * (0.5 + Math.random()));
    appendFileSync(file, lines(written, written + more));
    written += more;
    await sleep(50 + Math.random() * 250);
    const which = k % 10 === 0 ? "ship" : "serve";
    await pair.kill(which);
    killed[which]++;
  }
  await pair.finish();
  const want = readFileSync(file);
  const shown = await logward(["show", "--store", store, "work/app", "--raw"]);
  await pair.daemon.stop();
  assert.equal(killed.serve + killed.ship, KILLS);
  const got = shown.stdout;
  if (!got.equals(want)) {
    const g = got.toString("latin1").split("\n");
    const w = want.toString("latin1").split("\n");
    const i = g.findIndex((line, n) => line !== w[n]);
    const kept = mkdtempSync(join(tmpdir(), "logward-kill9-failure-"));
    cpSync(dir, kept, { recursive: true });
    assert.fail(
      `evidence in ${kept}; ${g.length - 1} of ${w.length - 1} lines; line ${i} differs: ` +
        `got ${JSON.stringify(g.slice(i - 1, i + 2))}, want ${JSON.stringify(w.slice(i - 1, i + 2))}; ` +
        pair.sender.err().slice(-1500),
    );
  }
  const recs = await readAll(store, "work", "app");
  assert.equal(recs.filter((r) => r.kind === "!gap").length, 0, "nothing was dropped");
  assert.equal(recs.filter((r) => r.kind === ".").length, written, "every line is one record, once");
});
