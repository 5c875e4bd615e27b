// The `logward` output (src/output/logward.ts): forwarding to another logward collector with the
// agent protocol, exactly once. Here one Destination is driven directly (test/helpers/
// out-records.ts keeps the runner's side of the contract) into a real receiving `logward serve`
// through `logward ingest --format agent`, as qrexec would run it; test/forward.test.ts runs
// two collectors end to end.

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { OutputConfig } from "../src/config/types.ts";
import { createDestination, remoteStreamName } from "../src/output/logward.ts";
import { destinationSuite } from "./helpers/destination-suite.ts";
import { forwardCommand } from "./helpers/forward.ts";
import { deliverAll, outRecord } from "./helpers/out-records.ts";
import { tracked } from "./helpers/ship.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const { collector } = tracked();

function config(command: string, sessions = 4): OutputConfig {
  return {
    name: "central",
    type: "logward",
    match: "*",
    start: "oldest",
    command,
    options: { sessions },
    file: "/dev/null",
  };
}

// the shared contract of every Destination, against a real receiving collector each time
let suiteReceiver = "";
let suiteDaemon: Awaited<ReturnType<typeof collector>> | null = null;
destinationSuite("logward", {
  factory: createDestination,
  start: async () => {
    suiteReceiver = join(tempDir(), "central");
    suiteDaemon = await collector(suiteReceiver);
    return { config: config(forwardCommand(suiteReceiver)) };
  },
  received: async () => {
    const out: string[] = [];
    const dir = join(suiteReceiver, "origins", "logvm1");
    for (const remote of readdirSync(dir)) {
      const [origin, stream] = remote.split(".");
      for (const r of await readAll(suiteReceiver, "logvm1", remote))
        if (r.kind === ".") out.push(`${origin}/${stream} ${r.ref!.split(":")[1]}`);
    }
    return out;
  },
  stop: async () => {
    await suiteDaemon?.stop();
  },
});

describe("logward output", () => {
  test("stream names at the receiver: origin.stream, dots of the origin doubled, else none", () => {
    assert.equal(remoteStreamName("vm1", "app"), "vm1.app");
    assert.equal(remoteStreamName("a.b", "c"), "a..b.c");
    assert.equal(remoteStreamName("a", "b.c"), "a.b.c");
    assert.equal(remoteStreamName("_logward", "events"), null);
    assert.equal(remoteStreamName("v".repeat(40), "s".repeat(30)), null);
  });

  test("every record exactly once at the receiver, with kill -9 of the receiver while a batch is in flight", async () => {
    const root = tempDir();
    const receiver = join(root, "central");
    let daemon = await collector(receiver);
    const records = [];
    // two source streams, interleaved in batches; collector records and a last line without LF
    for (let i = 1; i <= 3000; i++) {
      records.push(outRecord("vm1", "app", i, Buffer.from(`app record ${i} \\ tab\there`)));
      if (i % 3 === 0)
        records.push(outRecord("vm2", "syslog", i / 3, Buffer.from(`<13>1 - h a - - - m${i}`)));
    }
    records.push(outRecord("vm1", "app", 3001, Buffer.from("seq=3002 session=5f0c"), undefined, "!nolf"));
    records.push(outRecord("vm1", "app", 3002, Buffer.from("last, no LF")));
    // each kill lands while the next batch is in flight (sent, not yet acknowledged)
    let kills = 0;
    let restarting: Promise<void> = Promise.resolve();
    const { failures } = await deliverAll(createDestination, config(forwardCommand(receiver), 2), records, {
      batch: 100,
      retryMs: 100,
      onDelivered: (n) => {
        if (kills < 3 && n >= (kills + 1) * 900) {
          kills++;
          restarting = (async () => {
            await sleep(3);
            daemon.proc.kill("SIGKILL");
            await daemon.stop();
            daemon = await collector(receiver);
          })();
        }
      },
    });
    await restarting;
    assert.equal(kills, 3);
    assert.ok(failures >= 3, `every kill failed a delivery (${failures})`);
    await daemon.stop();

    const app = (await readAll(receiver, "logvm1", "vm1.app")).filter((r) => r.kind === ".");
    assert.equal(app.length, 3002);
    const refSeq = (ref: string | undefined) => Number(ref!.slice(ref!.indexOf(":") + 1));
    assert.deepEqual(
      app.map((r) => refSeq(r.ref)),
      Array.from({ length: 3002 }, (_, i) => i + 1),
    );
    assert.equal(app[0]!.payload.toString(), "app record 1 \\ tab\there");
    assert.equal(app[3000]!.payload.toString(), "!nolf seq=3002 session=5f0c");
    assert.match(app[0]!.ref!, /^fwd-[0-9a-f]{32}:1$/);
    const all = await readAll(receiver, "logvm1", "vm1.app");
    // the source's !nolf travels as data, and the record it named keeps its missing LF here too
    const lastNolf = all.findLast((r) => r.kind === "!nolf");
    assert.ok(lastNolf, "the receiver stored a !nolf for the record without LF");
    assert.equal(lastNolf.payload.toString().split(" ")[0], `seq=${all.at(-2)!.seq}`);
    const syslog = (await readAll(receiver, "logvm1", "vm2.syslog")).filter((r) => r.kind === ".");
    assert.deepEqual(
      syslog.map((r) => r.payload.toString()),
      Array.from({ length: 1000 }, (_, i) => `<13>1 - h a - - - m${(i + 1) * 3}`),
    );
    for (const r of await readAll(receiver, "logvm1", "vm1.app"))
      assert.ok(r.kind !== "!gap", `no gap at the receiver: ${r.payload}`);
  });

  test("a source stream with no valid name at the receiver is left out, once in the log", async () => {
    const root = tempDir();
    const receiver = join(root, "central");
    const daemon = await collector(receiver);
    const logged: string[] = [];
    const records = [
      outRecord("_logward", "events", 1, Buffer.from("event=start")),
      outRecord("vm1", "app", 1, Buffer.from("kept")),
      outRecord("_logward", "events", 2, Buffer.from("event=stop")),
    ];
    await deliverAll(createDestination, config(forwardCommand(receiver)), records, {
      batch: 2,
      log: (m) => logged.push(m),
    });
    await daemon.stop();
    assert.equal(logged.filter((m) => m.includes("_logward/events is not forwarded")).length, 1);
    const got = (await readAll(receiver, "logvm1", "vm1.app")).filter((r) => r.kind === ".");
    assert.deepEqual(
      got.map((r) => r.payload.toString()),
      ["kept"],
    );
  });
});
