// Per-origin policy end to end (real `serve`, real `ingest` and `ship`), and retention with a
// controllable clock in-process.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parsePolicy } from "../src/config/policy.ts";
import { Alerts } from "../src/policy/alerts.ts";
import { Policy } from "../src/policy/engine.ts";
import { COLLECTOR_ORIGIN } from "../src/store/names.ts";
import { Store } from "../src/store/store.ts";
import { BIN, logward } from "./helpers/cli.ts";
import { ALLOW_ROOT, ingest, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { mountTmpfs } from "./helpers/tmpfs.ts";

const SEGMENT = 64 * 1024;

/** Bytes of a stream's segment files; listed again when compression swaps a file meanwhile. */
function diskBytes(dir: string): number {
  for (;;) {
    try {
      let n = 0;
      for (const f of readdirSync(dir)) if (/^\d{20}\.log(\.zst)?$/.test(f)) n += statSync(join(dir, f)).size;
      return n;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}

async function alerts(
  store: string,
): Promise<{ alert: string; origin: string | null; group: string | null; message: string }[]> {
  const r = await logward(["alerts", "--store", store, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Random text, one record a line: compression cannot make it small. */
function randomLines(n: number): string {
  return `${Array.from({ length: n }, (_, i) => `rec ${i} ${randomBytes(75).toString("base64")}`).join("\n")}\n`;
}

/** `logward ship --once` of `file` as work/app, through a real ingest, as qrexec would run it. */
function shipFile(file: string, dir: string, store: string) {
  const via = `QREXEC_REMOTE_DOMAIN=work QREXEC_SERVICE_ARGUMENT=app '${process.execPath}' '${BIN}' ingest --format agent --store '${store}'`;
  const ship = spawn(
    process.execPath,
    [BIN, "ship", "--file", file, "--stream", "app", "--spool", join(dir, "spool"), "--once", "--via", via],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const shipped = new Promise<number | null>((r) => ship.once("exit", r));
  return { ship, shipped };
}

function lines(prefix: string, n: number, width = 200, incompressible = false): string {
  // the quota counts bytes on disk, compressed: a flood that must fill it sends random text
  const fill = () =>
    incompressible
      ? randomBytes(Math.ceil((width * 3) / 4))
          .toString("base64")
          .slice(0, width)
      : "f".repeat(width);
  return (
    Array.from({ length: n }, (_, i) => `${prefix} ${String(i).padStart(7, "0")} ${fill()}`).join("\n") + "\n"
  );
}

describe("policy", { timeout: 300_000 }, () => {
  test("flood: 50x its quota; the victim's records are intact; the flood stays within quota + one segment", async () => {
    const store = join(tempDir(), "store");
    const quota = 1024 * 1024;
    const d = await serve(
      store,
      `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "flood"\nquota = "1MiB"\non_quota = "drop-oldest"\n`,
    );
    try {
      const flood = lines("flood", 250_000, 200, true); // 250k x ~214 bytes: about 51 MiB, 50 x the quota
      const floodRun = ingest(store, "lines", flood, {
        QREXEC_REMOTE_DOMAIN: "flood",
        QREXEC_SERVICE_ARGUMENT: "main",
      });
      const victimSent: string[] = [];
      for (let k = 0; k < 20; k++) {
        const text = `victim record ${k} \x1b[1m evidence`;
        victimSent.push(text);
        const r = await ingest(store, "lines", `${text}\n`, { QREXEC_REMOTE_DOMAIN: "victim" });
        assert.equal(r.code, 0, r.stderr);
        await sleep(20);
      }
      assert.equal((await floodRun).code, 0);
    } finally {
      assert.equal(await d.stop(), 0);
    }
    const victim = await readAll(store, "victim", "main");
    assert.deepEqual(
      victim.filter((r) => r.kind === ".").map((r) => r.payload.toString()),
      Array.from({ length: 20 }, (_, k) => `victim record ${k} \x1b[1m evidence`),
    );
    assert.ok(
      victim.every((r) => r.kind !== "!evict"),
      "nothing of the victim was removed",
    );
    const floodDir = join(store, "origins", "flood", "main");
    const used = diskBytes(floodDir);
    assert.ok(used <= quota + SEGMENT, `flood uses ${used} bytes, quota ${quota} + one segment ${SEGMENT}`);
    const floodRecs = await readAll(store, "flood", "main");
    const evicts = floodRecs.filter((r) => r.kind === "!evict");
    assert.ok(evicts.length > 10);
    // (the earliest !evict records went with the segments they were in: drop-oldest is oldest first)
    for (const e of evicts) {
      assert.match(
        e.payload.toString(),
        /^reason=quota first_seq=\d+ last_seq=\d+ records=\d+ first=\S+ last=\S+ bytes=\d+$/,
      );
    }
    // what is left is the newest part of the flood, contiguous up to its last line
    const kept = floodRecs
      .filter((r) => r.kind === ".")
      .map((r) => Number(r.payload.toString().split(" ")[1]));
    assert.equal(kept.at(-1), 249_999);
    assert.ok(kept.every((n, i) => i === 0 || n === kept[i - 1]! + 1));
    const a = await alerts(store);
    for (const kind of ["quota-near", "quota-reached", "evicted"]) {
      assert.ok(
        a.some((x) => x.alert === kind && x.origin === "flood"),
        kind,
      );
    }
    assert.ok(a.every((x) => x.origin !== "victim"));
    assert.equal(a.filter((x) => x.alert === "quota-near").length, 1, "once per crossing, not per record");
    assert.equal(a.filter((x) => x.alert === "quota-reached").length, 1);
    const ls = await logward(["ls", "--store", store]);
    assert.match(ls.stdout.toString(), /^flood +main .* (at quota|near quota|ok) +\d+% of 1\.0 MiB +\d+$/m);
    assert.match(ls.stdout.toString(), /^victim +main .* ok +0% of 1\.0 GiB +\d+$/m);
  });

  test("a group of 50 disposables shares its quota; other origins are untouched", async () => {
    const store = join(tempDir(), "store");
    const d = await serve(
      store,
      `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "disp*"\ngroup = "disposables"\nquota = "1MiB"\n` +
        `[groups.disposables]\nquota = "2MiB"\n`,
    );
    try {
      await ingest(store, "lines", lines("work", 100), { QREXEC_REMOTE_DOMAIN: "work" });
      for (let i = 0; i < 50; i += 5) {
        await Promise.all(
          Array.from({ length: 5 }, (_, k) =>
            ingest(store, "lines", lines(`disp${1000 + i + k}`, 1000), {
              QREXEC_REMOTE_DOMAIN: `disp${1000 + i + k}`,
            }),
          ),
        );
      }
    } finally {
      await d.stop();
    }
    let group = 0;
    for (const o of readdirSync(join(store, "origins")).filter((o) => o.startsWith("disp"))) {
      group += diskBytes(join(store, "origins", o, "main"));
    }
    assert.ok(group <= 2 * 1024 * 1024 + SEGMENT, `the group uses ${group} bytes`);
    // 50 x ~210 KiB were sent: the oldest disposables lost their oldest records first
    const first = await readAll(store, "disp1000", "main");
    const last = await readAll(store, "disp1049", "main");
    assert.ok(first.some((r) => r.kind === "!evict" && /group=disposables/.test(r.payload.toString())));
    assert.equal(last.filter((r) => r.kind === ".").length, 1000, "the newest disposable is whole");
    const work = await readAll(store, "work", "main");
    assert.equal(work.filter((r) => r.kind === ".").length, 100);
    assert.ok((await alerts(store)).some((a) => a.alert === "evicted" && a.group === "disposables"));
  });

  test("refuse: the sender is slowed, not dropped; a SIGHUP with a larger quota lets everything in", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const config = join(dir, "logward.toml");
    const write = (quota: string) =>
      writeFileSync(
        config,
        `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "work"\nquota = "${quota}"\non_quota = "refuse"\n`,
      );
    write("256KiB");
    const d = await serve(store, undefined, {});
    await d.stop();
    // the daemon with that config file, so that SIGHUP rereads it
    const proc = spawn(
      process.execPath,
      [BIN, "serve", "--store", store, "--config", config, ...ALLOW_ROOT],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    await new Promise<void>((r) =>
      proc.stdout!.on("data", (b: Buffer) => b.toString().includes("ready") && r()),
    );
    const file = join(dir, "app.log");
    const total = 10_000;
    // random text: compression cannot make it fit the quota
    writeFileSync(file, randomLines(total));
    const { ship, shipped } = shipFile(file, dir, store);
    try {
      // the collector stops reading at the quota: the rest waits in the sender's spool
      let held = 0;
      for (let k = 0; k < 50 && held === 0; k++) {
        await sleep(200);
        const a = await alerts(store);
        if (a.some((x) => x.alert === "refusing" && x.origin === "work")) held = 1;
      }
      assert.equal(held, 1, "a refusing alert");
      const stored = (await readAll(store, "work", "app")).filter((r) => r.kind === ".").length;
      assert.ok(stored < total, `only ${stored} of ${total} stored while refusing`);
      assert.ok(diskBytes(join(store, "origins", "work", "app")) <= 256 * 1024 + SEGMENT);
      // ls shows it as soon as the collector has written its state (within a fifth of a second)
      let shown = "";
      for (let k = 0; k < 25 && !/^work +app .* refusing /m.test(shown); k++) {
        await sleep(100);
        shown = (await logward(["ls", "--store", store])).stdout.toString();
      }
      assert.match(shown, /^work +app .* refusing +\d+% of 256 KiB +\d+$/m);
      // a bad reload keeps the old configuration and says so
      writeFileSync(config, "[[policy]]\nmatch = 7\n");
      proc.kill("SIGHUP");
      await sleep(300);
      assert.ok((await alerts(store)).some((x) => x.alert === "reload-failed"));
      write("100MiB");
      proc.kill("SIGHUP");
      assert.equal(await shipped, 0);
    } finally {
      ship.kill("SIGKILL");
      proc.kill("SIGTERM");
      await new Promise((r) => proc.once("exit", r));
    }
    const recs = await readAll(store, "work", "app");
    const got = recs.filter((r) => r.kind === ".").map((r) => r.payload.toString());
    assert.equal(got.length, total, "nothing lost");
    assert.ok(recs.every((r) => r.kind !== "!gap" && r.kind !== "!evict"));
    assert.ok((await alerts(store)).some((x) => x.alert === "accepting" && x.origin === "work"));
  });

  test("retention removes what is older than the origin's limit, by the collector's clock", async () => {
    const root = join(tempDir(), "store");
    let now = Date.parse("2026-01-01T00:00:00Z") * 1000;
    const store = await Store.open(root, { clock: () => now, maxSegmentBytes: 4096, compress: false });
    try {
      const problems: string[] = [];
      const config = parsePolicy(
        { policy: [{ match: "old*", retention: "14d" }] },
        { alertCommand: null, minFree: 0 },
        problems,
      );
      assert.deepEqual(problems, []);
      const alerts = new Alerts(await store.stream(COLLECTOR_ORIGIN, "alerts"), null);
      const policy = await Policy.start(store, config, alerts, { timers: false });
      const oldw = await store.stream("oldvm", "main");
      const keepw = await store.stream("keeper", "main");
      policy.track(oldw);
      policy.track(keepw);
      for (let day = 0; day < 20; day++) {
        for (let i = 0; i < 30; i++) {
          oldw.appendRecords([Buffer.from(`day ${day} record ${i} ${"x".repeat(100)}`)]);
          keepw.appendRecords([Buffer.from(`day ${day} record ${i}`)]);
        }
        await store.flush();
        now += 86400_000_000;
      }
      await policy.runRetention();
      await store.flush();
      const cutoff = new Date((now - 14 * 86400_000_000) / 1000).toISOString();
      const oldDays = oldw.sealed.map((m) => m.lastTime);
      assert.ok(
        oldDays.every((t) => t >= cutoff.slice(0, 19)),
        "no sealed segment ends before the cutoff",
      );
      await policy.stop();
    } finally {
      await store.close();
    }
    const old = await readAll(root, "oldvm", "main");
    const evicts = old.filter((r) => r.kind === "!evict");
    assert.ok(evicts.length > 0);
    assert.ok(evicts.every((r) => r.payload.toString().startsWith("reason=retention ")));
    const firstDay = Number(/^day (\d+)/.exec(old.find((r) => r.kind === ".")!.payload.toString())![1]);
    assert.ok(firstDay >= 5, `the oldest kept record is from day ${firstDay}`);
    const keeper = await readAll(root, "keeper", "main");
    assert.equal(keeper.filter((r) => r.kind === ".").length, 600, "no retention for an origin without one");
  });

  test("rate limit: the sender is slowed down, nothing is dropped; alert_command is told, rate-limited", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const notes = join(dir, "notes.txt");
    const notifier = join(dir, "notify.sh");
    writeFileSync(notifier, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${notes}'\n`, { mode: 0o755 });
    const d = await serve(
      store,
      `[collector]\nalert_command = ["${notifier}", "--urgent"]\n[[policy]]\nmatch = "chatty"\nrate = "2000/s"\n`,
    );
    const started = Date.now();
    try {
      const r = await ingest(store, "lines", lines("chatty", 6000, 20), { QREXEC_REMOTE_DOMAIN: "chatty" });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await d.stop();
    }
    // 6000 records at 2000/s with a one-second burst: at least two seconds (a lower bound only)
    assert.ok(Date.now() - started >= 1900, `took ${Date.now() - started} ms`);
    const recs = await readAll(store, "chatty", "main");
    assert.equal(recs.filter((r) => r.kind === ".").length, 6000);
    assert.ok(recs.every((r) => r.kind !== "!gap"));
    const a = await alerts(store);
    assert.equal(
      a.filter((x) => x.alert === "rate-limited" && x.origin === "chatty").length,
      1,
      "once a minute",
    );
    const told = readFileSync(notes, "utf8").trim().split("\n");
    assert.ok(told.length >= 1 && told.length <= 6, `${told.length} notifications`);
    assert.match(
      told.find((l) => l.includes("rate-limited"))!,
      /^--urgent logward: rate-limited chatty: chatty sends faster/,
    );
  });

  test("a real full filesystem: below min_free the collector stops taking records, and resumes when space returns", async (t) => {
    const mnt = mountTmpfs("4m", "logward-reserve-");
    if (!mnt) return t.skip("needs root and a tmpfs mount to make a small real filesystem");
    const store = join(mnt, "store");
    const dir = tempDir();
    const d = await serve(store, `[collector]\nmin_free = "1MiB"\n`);
    const file = join(dir, "app.log");
    const total = 40_000; // about 4.4 MB of random text: more than the 4 MiB filesystem holds
    writeFileSync(file, randomLines(total));
    const { ship, shipped } = shipFile(file, dir, store);
    try {
      let low = false;
      for (let k = 0; k < 100 && !low; k++) {
        await sleep(100);
        low = (await alerts(store)).some((x) => x.alert === "disk-reserve");
      }
      assert.ok(low, "a disk-reserve alert");
      await sleep(500);
      const stored = (await readAll(store, "work", "app")).filter((r) => r.kind === ".");
      assert.ok(stored.length < total, `${stored.length} of ${total} stored while the reserve holds`);
      // what is stored is whole, once and in order
      for (const [i, r] of stored.entries()) assert.equal(r.payload.toString().split(" ")[1], String(i));
      // space returns: the collector notices by itself and the sender's spool drains
      execFileSync("mount", ["-o", "remount,size=64m", mnt], { stdio: "ignore" });
      assert.equal(await shipped, 0);
    } finally {
      ship.kill("SIGKILL");
      assert.equal(await d.stop(), 0);
    }
    const all = (await readAll(store, "work", "app")).filter((r) => r.kind === ".");
    assert.equal(all.length, total, "nothing lost");
    for (const [i, r] of all.entries()) assert.equal(r.payload.toString().split(" ")[1], String(i));
    assert.ok((await alerts(store)).some((x) => x.alert === "disk-ok"));
  });

  test("a bad policy is refused at start with every problem listed (file, key, what is wrong)", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.toml");
    writeFileSync(
      file,
      `[collector]\nmin_free = "lots"\nalert_command = "notify-send"\n` +
        `[[policy]]\nmatch = "../x"\nquota = "1KiB"\non_quota = "delete"\nrate = "fast"\ngroup = "nogroup"\nkeep = 1\n` +
        `[[policy]]\nmatch = "work"\nretention = "forever"\n[groups.g]\nquota = "1MiB"\nsize = 2\n`,
    );
    const r = await logward(["serve", "--store", join(dir, "store"), "--config", file]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, "one sentence");
    assert.match(r.stderr, new RegExp(`The configuration ${file} has 10 problem\\(s\\)`));
    for (const m of [
      /collector\.min_free must be a size/,
      /collector\.alert_command must be a command as a list/,
      /policy #1: keep is not a known setting/,
      /policy #1: match must be a glob/,
      /policy #1: quota must be a size of at least 64KiB/,
      /policy #1: on_quota must be "drop-oldest" or "refuse"/,
      /policy #1: rate must be a rate such as "2000\/s"/,
      /policy #2: retention must be a duration/,
      /groups\.g\.size is not a known setting/,
      /a policy names group "nogroup", but there is no \[groups\.nogroup\]/,
    ]) {
      assert.match(r.stderr, m);
    }
  });

  test("usage is counted from the disk after a restart: a smaller quota applies at once", async () => {
    const store = join(tempDir(), "store");
    let d = await serve(store, `[store]\nsegment_size = "64KiB"\n`);
    const text = Array.from({ length: 10_000 }, (_, i) => `big ${i} ${randomBytes(75).toString("base64")}`);
    await ingest(store, "lines", `${text.join("\n")}\n`, { QREXEC_REMOTE_DOMAIN: "big" });
    await d.stop();
    const before = diskBytes(join(store, "origins", "big", "main"));
    assert.ok(before > 512 * 1024);
    d = await serve(store, `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "big"\nquota = "256KiB"\n`);
    await sleep(500);
    await d.stop();
    const after = diskBytes(join(store, "origins", "big", "main"));
    assert.ok(after <= 256 * 1024 + SEGMENT, `${after} bytes after the restart (${before} before)`);
    assert.ok((await alerts(store)).some((a) => a.alert === "evicted" && a.origin === "big"));
  });
});
