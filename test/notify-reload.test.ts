// Notify rules as outputs of the outputs' worker (src/output/notify-rules.ts): a rule sees a
// record only once the collector reported it durable (durable-gate.ts); `logward ls --outputs
// --json` shows its state as an output's; SIGHUP adds, changes and removes rules, and refuses a
// bad one with the old rules going on; a catastrophic pattern on one origin's records does not
// stop another origin's ingest.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { NotifyConfig } from "../src/config/types.ts";
import { notifyOutputs } from "../src/output/notify-rules.ts";
import { OutputSet } from "../src/output/output-set.ts";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];

const rule = (over: Partial<NotifyConfig>): NotifyConfig => ({
  name: "r",
  match: "vm1/main",
  pattern: "disk full",
  severity: null,
  command: "true",
  rateCount: 100,
  ratePeriodMs: 60_000,
  ...over,
});

test("a rule notifies about a record only once the collector reported it durable", async () => {
  const root = tempDir();
  const out = join(root, "notified");
  const store = await Store.open(root);
  const w = await store.stream("vm1", "main");
  w.appendRecords([Buffer.from("boot")]);
  await store.flush();
  const alerts: string[] = [];
  const set = new OutputSet(root, { log: () => {}, raise: (_o, m) => alerts.push(m) });
  try {
    await set.apply(notifyOutputs([rule({ command: `cat >> '${out}'` })]));
    // the rule starts at the newest record: its cursor is placed before anything is appended
    await until("the rule's cursor", () => existsSync(join(root, "run/outputs/_notify.r/cursors.json")));
    w.appendRecords([Buffer.from("disk full 2"), Buffer.from("fine"), Buffer.from("disk full 4")]);
    await store.flush(); // on disk, and readable, but not reported durable
    await sleep(700);
    assert.deepEqual(alerts, [], "nothing before the collector says the records are durable");
    assert.deepEqual(lines(out), []);
    set.noteDurable([["vm1/main", 2]]);
    await until("the durable one", () => lines(out).length === 1);
    await sleep(300);
    assert.equal(lines(out).length, 1, "seq 4 is not durable yet");
    assert.match(lines(out)[0]!, /^notify r: vm1\/main seq 2 at \S+: disk full 2$/);
    set.noteDurable([["vm1/main", 4]]);
    await until("the second", () => lines(out).length === 2);
    assert.match(lines(out)[1]!, /seq 4 .*: disk full 4$/);
    assert.deepEqual(alerts, lines(out));
  } finally {
    await set.close();
    await store.close();
  }
});

test("serve: ls shows a rule's state; SIGHUP adds, changes and removes rules and refuses a bad one", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const confd = join(dir, "conf.d");
  mkdirSync(confd);
  const out = join(dir, "notified");
  const drop = (text: string) => writeFileSync(join(confd, "10-notify.toml"), text);
  const disk = (pattern: string) =>
    `[[notify]]\nname = "disk"\nmatch = "vm1/app"\npattern = "${pattern}"\ncommand = "sed 's/^/disk /' >> '${out}'"\n`;
  const second = `[[notify]]\nname = "second"\nmatch = "vm1/app"\npattern = "second"\ncommand = "sed 's/^/second /' >> '${out}'"\n`;
  drop(disk("disk full"));
  const d = await serve(store, `include = "${confd}/*.toml"\n`);
  const env = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "app" };
  const send = async (text: string) => assert.equal((await ingest(store, "lines", text, env)).code, 0);
  try {
    await send("ok\ndisk full\n");
    await until("the first notification", () => lines(out).length === 1);
    const first = /^disk notify disk: vm1\/app seq (\d+) .*: disk full$/.exec(lines(out)[0]!);
    assert.ok(first, lines(out)[0]);

    // ls --outputs --json: the rule with its position in the stream it read
    const seen = async () => {
      const ls = await logward(["ls", "--outputs", "--json", "--store", store]);
      assert.equal(ls.code, 0, ls.stderr);
      return JSON.parse(ls.stdout.toString()) as { name: string; [key: string]: unknown }[];
    };
    let row: Record<string, unknown> | undefined;
    await until("the rule in ls", async () => {
      row = (await seen()).find((o) => o.name === "_notify.disk") as Record<string, unknown> | undefined;
      // the position is the rule's cursor: past the notified record (and the session's end)
      return Number(row?.position) >= Number(first[1]) && row?.lag_records === 0;
    });
    assert.equal(row!.type, "notify");
    assert.equal(row!.match, "vm1/app");
    assert.equal(row!.streams, 1);
    assert.equal(row!.lag_records, 0);
    assert.equal(row!.status, "running");
    // its counters: notifications made, matches held back by the rate, records over the budget
    assert.deepEqual(row!.counts, { notified: 1 });

    // changed and added by SIGHUP
    drop(disk("disk gone") + second);
    d.proc.kill("SIGHUP");
    await until("the reload", () => /output _notify\.disk: changed, restarting/.test(d.out()));
    await until("both rules running", async () => {
      const names = (await seen()).map((o) => o.name);
      return names.includes("_notify.second") && names.includes("_notify.disk");
    });
    await sleep(500);
    await send("disk full\ndisk gone\nsecond\n");
    await until("two more", () => lines(out).length === 3);
    await sleep(300);
    assert.deepEqual(
      lines(out)
        .slice(1)
        .map((l) => l.replace(/ seq \d+ at \S+:/, ":"))
        .sort(),
      ["disk notify disk: vm1/app: disk gone", "second notify second: vm1/app: second"],
    );

    // a bad rule is refused, with one sentence; the running rules go on
    writeFileSync(join(confd, "20-bad.toml"), `[[notify]]\nname = "bad"\npattern = "("\ncommand = "true"\n`);
    d.proc.kill("SIGHUP");
    await until("the refusal", () => /reload refused/.test(d.out()));
    assert.match(d.out(), /notify bad: pattern is not a valid regular expression/);
    await send("disk gone again\n");
    await until("the old rule still works", () => lines(out).length === 4);
    assert.ok(!(await seen()).some((o) => o.name === "_notify.bad"));

    // removed
    writeFileSync(join(confd, "20-bad.toml"), "");
    drop(second);
    d.proc.kill("SIGHUP");
    await until("the removal", () => /output _notify\.disk: removed, stopped/.test(d.out()));
    await send("disk gone\nsecond again\n");
    await until("only the second rule", () => lines(out).length === 5);
    await sleep(500);
    assert.equal(lines(out).length, 5);
    assert.match(lines(out)[4]!, /^second .*: second again$/);
  } finally {
    await d.stop();
  }
});

test("serve: a catastrophic pattern on one origin's records does not stop another origin's ingest", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const d = await serve(
    store,
    `[[notify]]\nname = "slow"\nmatch = "vm1"\npattern = "^(a+)+$"\ncommand = "true"\n`,
  );
  try {
    const hostile = Array.from({ length: 20 }, () => `${"a".repeat(40)}!`).join("\n");
    const vm1 = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "app" };
    assert.equal((await ingest(store, "lines", `${hostile}\n`, vm1)).code, 0);
    // while the rule's expression is stuck on vm1's records, vm2's are taken and stored
    const vm2 = { QREXEC_REMOTE_DOMAIN: "vm2", QREXEC_SERVICE_ARGUMENT: "app" };
    assert.equal((await ingest(store, "lines", "from vm2\n", vm2)).code, 0);
    const shown = await logward(["show", "vm2/app", "--store", store]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout.toString(), /from vm2/);
    const early = await logward(["alerts", "--json", "--store", store]);
    assert.ok(!/its pattern ran over/.test(early.stdout.toString()), "vm2 came before the budget ran out");
    // the rule's budget stops the expression: an alert says which records were not checked
    await until("the budget alert", async () =>
      /its pattern ran over 1000 ms/.test(
        (await logward(["alerts", "--json", "--store", store])).stdout.toString(),
      ),
    );
  } finally {
    await d.stop();
  }
});

test("serve killed with kill -9: after the restart every record is notified at least once, none twice after", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const out = join(dir, "notified");
  const config = `[[notify]]\nname = "all"\nmatch = "vm1/app"\npattern = "^hit "\nrate = "1000/s"\ncommand = "cat >> '${out}'"\n`;
  const env = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "app" };
  const hits = (from: number) => Array.from({ length: 20 }, (_, i) => `hit ${from + i}\n`).join("");
  /** How many notifications each "hit N" got. */
  const told = () => {
    const n = new Map<string, number>();
    for (const l of lines(out)) {
      const m = / (hit \d+)$/.exec(l);
      if (m) n.set(m[1]!, (n.get(m[1]!) ?? 0) + 1);
    }
    return n;
  };
  let d = await serve(store, config);
  try {
    assert.equal((await ingest(store, "lines", hits(1), env)).code, 0);
    await until("the first 20", () => told().size === 20);
    d.proc.kill("SIGKILL");
    await new Promise((r) => d.proc.once("exit", r));
    const before = lines(out).length;
    d = await serve(store, config);
    assert.equal((await ingest(store, "lines", hits(21), env)).code, 0);
    await until("all 40", () => told().size === 40, { ms: 20_000 });
    await sleep(700);
    const n = told();
    // at least once: a record checked before the kill may be told again (its cursor was not
    // written yet); one stored after the restart exactly once; nothing that was not stored
    assert.deepEqual([...n.keys()].sort(), Array.from({ length: 40 }, (_, i) => `hit ${i + 1}`).sort());
    for (let i = 21; i <= 40; i++) assert.equal(n.get(`hit ${i}`), 1, `hit ${i} once`);
    for (let i = 1; i <= 20; i++) assert.ok(n.get(`hit ${i}`)! <= 2, `hit ${i} at most twice`);
    assert.ok(lines(out).length >= before + 20);
  } finally {
    await d.stop();
  }
});
