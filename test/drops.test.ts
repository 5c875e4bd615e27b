// Drop counting (issue 17): what the collector drops or refuses is counted per origin and per
// listener, kept in <store>/run/drops.json across restarts, shown by `ls` (DROPS column, `drops`
// in --json) and raised as a `dropped` alert (`logward alerts`). Real peers: a TCP connection
// over the origin's session cap, and a UDP flood against an origin whose quota refuses.

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { describe, test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { freePort, storedMessages } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

async function lsDrops(store: string, origin: string): Promise<number | undefined> {
  const r = await logward(["ls", "--json", "--store", store]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout.toString()) as { origin: string; drops: number }[];
  return rows.find((x) => x.origin === origin)?.drops;
}

async function droppedAlerts(store: string, origin: string): Promise<{ message: string }[]> {
  const r = await logward(["alerts", "--json", "--store", store]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l: string) => JSON.parse(l) as { alert: string; origin: string | null; message: string })
    .filter((a: { alert: string; origin: string | null }) => a.alert === "dropped" && a.origin === origin);
}

/** One TCP connection over max_sessions_per_origin = 1, refused while the first is held. */
async function refuseOne(port: number, store: string, stored: number): Promise<void> {
  const held = connect(port, "127.0.0.1");
  held.write("<13>1 - - app - - - held\n");
  await until(
    "the held one stored",
    async () => (await storedMessages(store, "127.0.0.1")).length === stored,
  );
  const extra = connect(port, "127.0.0.1");
  extra.on("error", () => {});
  extra.write("<13>1 - - app - - - refused\n");
  await new Promise((r) => extra.once("close", r));
  held.end();
  await new Promise((r) => held.once("close", r));
}

describe("drop counting", { timeout: 90_000 }, () => {
  test("a connection over the origin's cap: counted in ls, alerted, kept across a restart", async () => {
    const store = tempDir();
    const port = await freePort();
    const config = [
      "[collector]",
      "max_sessions_per_origin = 1",
      "[[listen]]",
      'transport = "tcp"',
      `address = "127.0.0.1:${port}"`,
      'origin = "address"',
    ].join("\n");
    let d = await serve(store, config);
    try {
      await refuseOne(port, store, 1);
      await until("ls shows the refusal", async () => (await lsDrops(store, "127.0.0.1")) === 1, {
        everyMs: 200,
      });
      await until("a dropped alert", async () => (await droppedAlerts(store, "127.0.0.1")).length === 1);
      const [a] = await droppedAlerts(store, "127.0.0.1");
      assert.match(a!.message, /^1 dropped or refused from 127\.0\.0\.1 since .*origin-sessions\/tcp 1/);
      const table = await logward(["ls", "--store", store]);
      assert.match(table.stdout.toString().split("\n")[0]!, /QUOTA\s+DROPS$/);
      assert.match(table.stdout.toString(), /\n127\.0\.0\.1\s+syslog\s.*\s1\n/);
    } finally {
      assert.equal(await d.stop(), 0);
    }
    // the count is on disk while serve is down, and serve starts again from it
    assert.equal(await lsDrops(store, "127.0.0.1"), 1);
    d = await serve(store, config);
    try {
      await refuseOne(port, store, 2);
      await until("the count goes on from 1", async () => (await lsDrops(store, "127.0.0.1")) === 2);
    } finally {
      assert.equal(await d.stop(), 0);
    }
    assert.equal(await lsDrops(store, "127.0.0.1"), 2);
  });

  test("a UDP flood against a refusing quota: every drop counted in ls --json and alerted", async () => {
    const store = tempDir();
    const port = await freePort();
    const d = await serve(
      store,
      [
        "[[listen]]",
        'transport = "udp"',
        `address = "127.0.0.1:${port}"`,
        'origin = "sensor"',
        "[[policy]]",
        'match = "sensor"',
        'quota = "64KiB"',
        'on_quota = "refuse"',
        "[store]",
        'segment_size = "64KiB"',
      ].join("\n"),
    );
    const sent = 2000;
    try {
      const sock = createSocket("udp4");
      const body = "x".repeat(100);
      for (let i = 0; i < sent; i++)
        await new Promise<void>((r) =>
          sock.send(`<13>1 - - s - - - ${i} ${body}`, port, "127.0.0.1", () => r()),
        );
      sock.close();
      await until(
        "a dropped alert for sensor",
        async () => (await droppedAlerts(store, "sensor")).length > 0,
        { ms: 30_000, everyMs: 200 },
      );
    } finally {
      assert.equal(await d.stop(), 0);
    }
    // after the stop, every datagram is stored or counted, by the collector or by the kernel
    const stored = (await readAll(store, "sensor", "syslog")).filter((r) => r.kind === ".").length;
    const drops = await lsDrops(store, "sensor");
    assert.ok(stored < sent, `some were refused (${stored} stored)`);
    assert.equal(stored + drops!, sent);
  });
});
