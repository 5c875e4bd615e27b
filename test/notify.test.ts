// Notify rules (`[[notify]]`, src/output/notify.ts): a matching record runs the rule's command
// with a one-line summary and raises an alert; the rate is enforced with one summary of what
// was held back; a record that does not match does nothing; a pattern over its time budget
// cannot stop the collector. End to end through a real `logward serve`, and the destination
// alone for the budget and the rate.

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../src/config/load.ts";
import type { NotifyConfig } from "../src/config/types.ts";
import type { DestinationHost } from "../src/output/destination.ts";
import { NOTIFY_BUDGET_MS, NotifyDestination } from "../src/output/notify.ts";
import { logward } from "./helpers/cli.ts";
import { ingest } from "./helpers/daemon.ts";
import { outRecord } from "./helpers/out-records.ts";
import { tracked } from "./helpers/ship.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const { collector } = tracked();

function rule(over: Partial<NotifyConfig>): NotifyConfig {
  return {
    name: "r",
    match: "*",
    pattern: null,
    severity: null,
    command: "cat >/dev/null",
    rateCount: 100,
    ratePeriodMs: 60_000,
    ...over,
  };
}

function host(logged: string[] = []): DestinationHost {
  return {
    store: "/nonexistent",
    stateDir: "/nonexistent",
    log: (m) => logged.push(m),
    acknowledged: () => {},
    signal: new AbortController().signal,
  };
}

const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];

describe("notify rules", () => {
  test("the configuration: every problem of a rule named, the defaults filled in", () => {
    const file = join(tempDir(), "logward.toml");
    writeFileSync(
      file,
      `[[notify]]\npattern = "disk"\ncommand = "true"\n\n[[notify]]\nname = "bad"\npattern = "(unclosed"\nseverity = "loud"\nrate = "10/week"\nmatch = "a/b/c"\n\n[[notify]]\nname = "none"\ncommand = "true"\n`,
    );
    assert.throws(
      () => loadConfig("/store", file),
      (err: Error) => {
        for (const part of [
          "notify bad: pattern is not a valid regular expression",
          "notify bad: severity must be a syslog severity or range",
          "notify bad: rate must be notifications per period",
          "notify bad: match must be an origin glob",
          "notify bad: command must be a command line for sh (required)",
          "notify none: give pattern, severity or both",
        ])
          assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
        return true;
      },
    );
    writeFileSync(
      file,
      `[[notify]]\npattern = "disk"\nseverity = "..err"\ncommand = "true"\nrate = "3/min"\n`,
    );
    assert.deepEqual(loadConfig("/store", file).notify, [
      {
        name: "notify-1",
        match: "*",
        pattern: "disk",
        severity: "..err",
        command: "true",
        rateCount: 3,
        ratePeriodMs: 60_000,
      },
    ]);
  });

  test("serve: a matching record runs the command with its summary and is an alert; others do nothing", async () => {
    const root = tempDir();
    const store = join(root, "store");
    const out = join(root, "notified");
    const daemon = await collector(
      store,
      `[[notify]]
name = "disk"
match = "vm1/app"
pattern = "disk (full|error)"
command = "cat >> '${out}'; echo \\"rule=$LOGWARD_NOTIFY_RULE\\" >> '${out}.env'"

[[notify]]
name = "errors"
match = "vm1/syslog"
severity = "..err"
command = "cat >> '${out}.sev'"
`,
    );
    const env = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "app" };
    assert.equal((await ingest(store, "lines", "all good\nnothing here\n", env)).code, 0);
    assert.equal(
      (await ingest(store, "lines", "ok\n/dev/sda1: disk full \x1b[31m\nok again\n", env)).code,
      0,
    );
    const other = { QREXEC_REMOTE_DOMAIN: "vm2", QREXEC_SERVICE_ARGUMENT: "app" };
    assert.equal((await ingest(store, "lines", "vm2 disk full, but not matched\n", other)).code, 0);
    const sys = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "syslog" };
    const sev = "<14>1 - h app - - - info only\n<11>1 - h app - - - an error\n<13>1 - h app - - - notice\n";
    assert.equal((await ingest(store, "lines", sev, sys)).code, 0);

    await until("the notifications", () => lines(out).length >= 1 && lines(`${out}.sev`).length >= 1);
    await sleep(500); // nothing else comes
    const got = lines(out);
    assert.equal(got.length, 1, got.join("\n"));
    // one line, escaped as stored: the ESC of the record cannot reach a terminal or a mail
    assert.match(got[0]!, /^notify disk: vm1\/app seq \d+ at \S+Z: \/dev\/sda1: disk full \\x1b\[31m$/);
    assert.deepEqual(lines(`${out}.env`), ["rule=disk"]);
    const sevGot = lines(`${out}.sev`);
    assert.equal(sevGot.length, 1, sevGot.join("\n"));
    assert.match(sevGot[0]!, /an error$/);

    const alerts = await logward(["alerts", "--json", "--store", store]);
    assert.equal(alerts.code, 0, alerts.stderr);
    const notes = alerts.stdout
      .toString()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { alert: string; origin: string; message: string })
      .filter((a) => a.alert === "notify");
    assert.equal(notes.length, 2, JSON.stringify(notes));
    assert.deepEqual(notes.map((a) => a.origin).sort(), ["vm1", "vm1"]);
    assert.ok(notes.some((a) => a.message === got[0]));
    await daemon.stop();
  });

  test("the rate: at most N notifications, then one that counts what was held back", async () => {
    const dir = tempDir();
    const out = join(dir, "notified");
    const alerts: string[] = [];
    const d = new NotifyDestination(
      rule({ pattern: "fail", command: `cat >> '${out}'`, rateCount: 2, ratePeriodMs: 1000 }),
      host(),
      (_o, m) => alerts.push(m),
    );
    const batch = Array.from({ length: 12 }, (_, i) =>
      outRecord("vm1", "app", i + 1, Buffer.from(i % 4 === 3 ? "fine" : `fail ${i + 1}`)),
    );
    await d.deliver(batch.slice(0, 6));
    await d.deliver(batch.slice(6));
    // 9 matches: 2 at once, the 7 others held back and told in one notification once allowed
    await until("the held-back summary", () => lines(out).length === 3, { ms: 5000 });
    await sleep(1200);
    // the first two run at once: their commands may append in either order
    const got = [...lines(out).slice(0, 2).sort(), ...lines(out).slice(2)];
    assert.equal(got.length, 3, got.join("\n"));
    assert.match(got[0]!, /seq 1 .*: fail 1$/);
    assert.match(got[1]!, /seq 2 .*: fail 2$/);
    assert.match(
      got[2]!,
      /^notify r: 7 more matches since \S+ were held back \(rate 2 per 1 s\); the last: vm1\/app seq 11 .*: fail 11$/,
    );
    assert.deepEqual([...alerts.slice(0, 2).sort(), alerts[2]], got);
    await d.close();
  });

  test("a pattern over its time budget is stopped: the batch is skipped with an alert, the next is checked", async () => {
    const logged: string[] = [];
    const alerts: string[] = [];
    const d = new NotifyDestination(rule({ pattern: "^(a+)+$", command: "true" }), host(logged), (_o, m) =>
      alerts.push(m),
    );
    const hostile = outRecord("vm1", "app", 1, Buffer.from(`${"a".repeat(40)}!`));
    const began = Date.now();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    await d.deliver([hostile]);
    clearInterval(ticker);
    const took = Date.now() - began;
    assert.ok(took >= NOTIFY_BUDGET_MS && took < NOTIFY_BUDGET_MS + 2000, `took ${took} ms`);
    assert.ok(ticks >= 10, `the event loop went on meanwhile (${ticks} ticks)`);
    assert.equal(alerts.length, 1);
    assert.match(
      alerts[0]!,
      /its pattern ran over 1000 ms on 1 records from vm1\/app seq 1 to vm1\/app seq 1/,
    );
    await d.deliver([outRecord("vm1", "app", 2, Buffer.from("aaaa"))]);
    await until("the match after the hostile batch", () => alerts.length === 2);
    assert.match(alerts[1]!, /seq 2 .*: aaaa$/);
    await d.close();
  });
});
