// Forwarding from one logward collector to another (issue 19, the `logward` output), end to
// end: two real `logward serve` processes on two stores, the first forwarding what vm1 sends it
// to the second through `logward ingest --format agent` (as qrexec would run it from the log
// qube `logvm1`). 20,000 records, kill -9 of the forwarding collector mid-stream and a restart,
// then kill -9 of the receiving one and a restart: every record exactly once at the receiver.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { ingest } from "./helpers/daemon.ts";
import { forwardCommand } from "./helpers/forward.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const { collector } = tracked();

const TOTAL = 20_000;
const CHUNK = 1000;

test("logward -> logward: 20,000 records exactly once through kill -9 of each collector", async () => {
  const root = tempDir();
  const sender = join(root, "logvm1");
  const central = join(root, "central");
  const config = `[[output]]
name = "central"
type = "logward"
match = "vm1"
command = """${forwardCommand(central, "logvm1", true)}"""
`;
  let receiving = await collector(central);
  let forwarding = await collector(sender, config);
  const vm1 = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "app" };
  const atCentral = async () =>
    (await readAll(central, "logvm1", "vm1.app").catch(() => [])).filter(
      (r) => r.kind === "." && r.payload.toString().startsWith("line "),
    );
  const killedAt: number[] = [];

  for (let from = 1; from <= TOTAL; from += CHUNK) {
    let text = "";
    for (let i = from; i < from + CHUNK; i++) text += `line ${i} of vm1\n`;
    const r = await ingest(sender, "lines", text, vm1);
    assert.equal(r.code, 0, r.stderr);
    if (from === 8 * CHUNK + 1) {
      // the forwarder is mid-stream: some of what it holds is at the receiver, some not yet
      await until("some records forwarded", async () => (await atCentral()).length > 0, { ms: 30_000 });
      forwarding.proc.kill("SIGKILL");
      await forwarding.stop();
      killedAt.push((await atCentral()).length);
      forwarding = await collector(sender, config);
    }
    if (from === 14 * CHUNK + 1) {
      await until("more records forwarded", async () => (await atCentral()).length > killedAt[0]!, {
        ms: 30_000,
      });
      receiving.proc.kill("SIGKILL");
      await receiving.stop();
      killedAt.push((await atCentral()).length);
      receiving = await collector(central);
    }
  }
  assert.ok(killedAt[0]! < 9 * CHUNK && killedAt[1]! < TOTAL, `killed mid-stream: ${killedAt}`);
  await until("every record at the receiver", async () => (await atCentral()).length >= TOTAL, {
    ms: 120_000,
    everyMs: 500,
  });
  await forwarding.stop();
  await receiving.stop();

  const got = await atCentral();
  const numbers = got.map((r) => Number(r.payload.toString().split(" ")[1]));
  assert.equal(got.length, TOTAL, "no record twice");
  assert.deepEqual(
    numbers,
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
  // the receiver names the forwarding qube as the origin; the source seq is the reference
  const source = (await readAll(sender, "vm1", "app")).filter((r) => r.kind === ".");
  assert.deepEqual(
    got.map((r) => Number(r.ref!.split(":")[1])),
    source.map((r) => r.seq),
  );
});
