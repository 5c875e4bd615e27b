// Both journald senders against the real collector and the REAL journalctl (/usr/bin/journalctl,
// systemd 252 on Debian 12) reading multi-boot journals built by systemd-journal-remote
// (test/helpers/journal.ts):
//   - the shell sender (packaging/qubes/sender/bin/logward-journal-sender), its stdin/stdout
//     joined to a real `logward ingest --format journal`, as qrexec-client-vm joins them;
//   - `logward ship --journal`, through its spool and `ingest --format agent`.
// Every case stores every entry exactly once, in journal order: the stored stream, shown with
// --raw, is byte for byte what `journalctl --merge -o export` prints of the whole journal.
//
// What the old senders (`journalctl -o export -f [--after-cursor=C]`) lost, by journalctl.c
// (v252): -f implies -n 10 without --no-tail (a first run sent the last 10 entries only), -f
// implies -b without --merge/--boot (nothing from earlier boots; the last boot of each journal
// here is this machine's own boot id, which is what -b selects), and --after-cursor skips the
// first entry after a cursor that is no longer in the journal (systemd issue 30288).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, before, describe, test } from "node:test";
import { RESUME_REQUEST } from "../src/wire/journal.ts";
import { BIN, logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import {
  type Boot,
  CURRENT_BOOT,
  exportAll,
  exportText,
  messageNumbers,
  requireJournalTools,
  writeJournal,
} from "./helpers/journal.ts";
import { journalEntry } from "./helpers/senders.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const SENDER = join(import.meta.dirname, "../packaging/qubes/sender/bin/logward-journal-sender");
const B1 = "5a1c0de0b0071d0000000000000000b1";
const B2 = "5a1c0de0b0071d0000000000000000b2";
const B3 = "5a1c0de0b0071d0000000000000000b3";
const B4 = "5a1c0de0b0071d0000000000000000b4";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const exited = (p: ChildProcess) =>
  new Promise<number | string | null>((r) => {
    if (p.exitCode !== null || p.signalCode !== null) r(p.exitCode ?? p.signalCode);
    else p.once("close", (code, signal) => r(code ?? signal));
  });

/** Every process a test started, killed (-9, with its group) if a failing test left it running. */
const started = new Set<ChildProcess>();
function track(p: ChildProcess): ChildProcess {
  started.add(p);
  p.once("close", () => started.delete(p));
  return p;
}
function killLeft(): void {
  for (const p of started) {
    try {
      process.kill(-p.pid!, "SIGKILL");
    } catch {
      p.kill("SIGKILL");
    }
  }
}

/** Waits for a stopped process; one that does not end in 10 s is killed (-9) and fails the test. */
async function ends(p: ChildProcess, what: string, term = true): Promise<number | string | null> {
  const timer = setTimeout(() => {
    try {
      process.kill(-p.pid!, "SIGKILL");
    } catch {
      p.kill("SIGKILL");
    }
  }, 10_000);
  const r = await exited(p);
  clearTimeout(timer);
  assert.notEqual(r, "SIGKILL", `${what} did not end within 10 s${term ? " of SIGTERM" : ""}`);
  return r;
}

interface Sender {
  origin: string;
  /** Starts one run of the sender on the journal in `dir`; `follow` false reads to the end and exits. */
  start(store: string, dir: string, follow: boolean): Run;
}

interface Run {
  /** Ends a following run (as the unit's stop does) and resolves when every process exited. */
  stop(): Promise<void>;
  /** Resolves when a non-following run ended by itself; fails unless it ended well. */
  done(): Promise<void>;
  /** kill -9 of the sender's processes (ship only). */
  kill9(): Promise<void>;
  /** The collector side died: end what is left (qrexec-client-vm would), expecting failure. */
  broken(): Promise<void>;
}

/** qrexec-client-vm logvm logward.Journal+journal SENDER, the collector side run locally. */
const shellSender: Sender = {
  origin: "personal",
  start(store, dir, follow) {
    const ingest = spawn(process.execPath, [BIN, "ingest", "--format", "journal", "--store", store], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH, QREXEC_REMOTE_DOMAIN: "personal", QREXEC_SERVICE_ARGUMENT: "journal" },
    });
    track(ingest);
    const sender = spawn("sh", [SENDER], {
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH,
        // split at spaces by the script, as a variable holding a command (tempDir has none)
        JOURNALCTL: `/usr/bin/journalctl --directory=${dir}`,
        LOGWARD_JOURNAL_FOLLOW: follow ? "1" : "0",
      },
    });
    track(sender);
    let err = "";
    ingest.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    sender.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    sender.stdout.pipe(ingest.stdin);
    ingest.stdout.pipe(sender.stdin);
    sender.stdin.on("error", () => {});
    ingest.stdin.on("error", () => {});
    // the remote end is gone: qrexec-client-vm closes the local program's pipes
    ingest.once("close", () => {
      sender.stdout.destroy();
      sender.stdin.destroy();
    });
    const both = () => Promise.all([exited(ingest), exited(sender)]);
    return {
      async stop() {
        sender.kill("SIGTERM"); // the script exec'd journalctl: this ends journalctl -f
        const [i, s] = await Promise.all([exited(ingest), ends(sender, "the sender")]);
        assert.deepEqual([i, s], [0, "SIGTERM"], err);
      },
      async done() {
        const [i, s] = await both();
        assert.deepEqual([i, s], [0, 0], err);
      },
      async kill9() {
        throw new Error("not used");
      },
      async broken() {
        assert.equal(await exited(ingest), 1, "ingest fails when the collector dies");
        // journalctl -f notices its closed stdout (EPIPE or, idle, the hang-up) and exits
        assert.notEqual(await ends(sender, "the sender", false), 0);
      },
    };
  },
};

function shipSender(spool: string): Sender {
  return {
    origin: "work",
    start(store, dir, follow) {
      const via = `QREXEC_REMOTE_DOMAIN=work QREXEC_SERVICE_ARGUMENT=journal '${process.execPath}' '${BIN}' ingest --format agent --store '${store}'`;
      const args = [BIN, "ship", "--journal", "--journalctl", `/usr/bin/journalctl '--directory=${dir}'`];
      args.push("--stream", "journal", "--spool", spool, "--via", via);
      if (!follow) args.push("--once");
      // its own process group, so that kill -9 takes its journalctl and ingest along, as a
      // crash of the qube's service would
      const ship = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
      track(ship);
      let err = "";
      ship.stdout.on("data", (d: Buffer) => {
        err += d.toString();
      });
      ship.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      return {
        async stop() {
          ship.kill("SIGTERM");
          assert.equal(await ends(ship, "ship"), 0, err);
        },
        async done() {
          assert.equal(await exited(ship), 0, err);
        },
        async kill9() {
          process.kill(-ship.pid!, "SIGKILL");
          await exited(ship);
        },
        async broken() {
          // ship retries the channel by itself; nothing to end
        },
      };
    },
  };
}

async function entries(store: string, origin: string) {
  return (await readAll(store, origin, "journal")).filter((r) => r.kind === ".");
}

/** Waits until the stream holds `n` entries; fails saying how many arrived. */
async function waitFor(store: string, origin: string, n: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  let have = 0;
  while (Date.now() < end) {
    try {
      have = (await entries(store, origin)).length;
    } catch {
      have = 0; // the stream does not exist yet
    }
    if (have >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`the collector stored ${have} of ${n} journal entries within ${ms} ms`);
}

async function run(sender: Sender, store: string, dir: string, follow: boolean, total: number) {
  const r = sender.start(store, dir, follow);
  if (!follow) return r.done();
  await waitFor(store, sender.origin, total);
  await r.stop();
}

/** Exactly entries 1..total, once each, in order, and byte for byte the journals' export. */
async function assertStored(store: string, origin: string, total: number, dirs: string[]) {
  const recs = await entries(store, origin);
  assert.deepEqual(messageNumbers(recs.map((r) => r.payload)), range(1, total));
  assert.equal(new Set(recs.map((r) => r.ref)).size, total, "every entry has its own cursor");
  const raw = await logward(["show", "--store", store, `${origin}/journal`, "--raw"]);
  assert.ok(raw.stdout.equals(Buffer.concat(dirs.map(exportAll))), "show --raw is the journal's export");
}

function journalDir(parent: string, name: string, boots: Boot[], first: number, pad = 0): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeJournal(dir, exportText(boots, first, pad));
  return dir;
}

function segmentBytes(store: string, origin: string): number {
  const dir = join(store, "origins", origin, "journal");
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

for (const [name, make] of [
  ["the journald shell sender", () => shellSender],
  ["logward ship --journal", (dir: string) => shipSender(join(dir, "spool"))],
] as const) {
  describe(`${name}, real journalctl`, { timeout: 120_000 }, () => {
    before(requireJournalTools);
    afterEach(killLeft);

    test("first run, resume within a boot, resume across boots: every entry of every boot once", async () => {
      const dir = tempDir();
      const store = join(dir, "store");
      const sender = make(dir);
      const d = await serve(store);
      try {
        // first run, following: two earlier boots, none of them this one (-b would show none)
        const j = journalDir(
          dir,
          "journal",
          [
            { id: B1, entries: 20 },
            { id: B2, entries: 20 },
          ],
          1,
        );
        await run(sender, store, j, true, 40);
        await assertStored(store, sender.origin, 40, [j]);
        // the boot goes on: resume from a cursor inside it, reading to the end (no -f)
        writeJournal(j, exportText([{ id: B2, entries: 15 }], 41));
        await run(sender, store, j, false, 55);
        await assertStored(store, sender.origin, 55, [j]);
        // two reboots later (the last one this machine's): resume from a cursor of boot B2
        writeJournal(
          j,
          exportText(
            [
              { id: B3, entries: 20 },
              { id: CURRENT_BOOT, entries: 25 },
            ],
            56,
          ),
        );
        await run(sender, store, j, true, 100);
        await assertStored(store, sender.origin, 100, [j]);
        // nothing new: a run sends nothing and stores nothing twice
        await run(sender, store, j, false, 100);
        await assertStored(store, sender.origin, 100, [j]);
      } finally {
        await d.stop();
      }
    });

    test("resume from a cursor that is gone (a rebooted AppVM's fresh journal): nothing skipped", async () => {
      const dir = tempDir();
      const store = join(dir, "store");
      const sender = make(dir);
      const d = await serve(store);
      try {
        const old = journalDir(dir, "before-reboot", [{ id: B1, entries: 30 }], 1);
        await run(sender, store, old, false, 30);
        // a new journal file: another seqnum id and boot, the collector's cursor is in neither
        const fresh = journalDir(dir, "after-reboot", [{ id: B4, entries: 30 }], 31);
        await run(sender, store, fresh, false, 60);
        await assertStored(store, sender.origin, 60, [old, fresh]);
        // and following on from there
        writeJournal(fresh, exportText([{ id: B4, entries: 10 }], 61));
        await run(sender, store, fresh, true, 70);
        await assertStored(store, sender.origin, 70, [old, fresh]);
      } finally {
        await d.stop();
      }
    });

    test("kill -9 mid-stream (3 boots, 3000 entries): every entry once after the restart", async () => {
      const dir = tempDir();
      const store = join(dir, "store");
      const sender = make(dir);
      const boots = [B1, B2, CURRENT_BOOT].map((id) => ({ id, entries: 1000 }));
      const j = journalDir(dir, "journal", boots, 1, 3000);
      let d: Daemon = await serve(store);
      const r = sender.start(store, j, true);
      try {
        // kill -9 of the collector (and of ship, which has a spool) once entries are arriving
        const t0 = Date.now();
        while (segmentBytes(store, sender.origin) < 256 * 1024) {
          if (Date.now() - t0 > 20_000) assert.fail("no entries arrived");
          await new Promise((res) => setTimeout(res, 2));
        }
        d.proc.kill("SIGKILL");
        if (sender.origin === "work") await r.kill9();
        await exited(d.proc);
        await r.broken();
        const before = (await entries(store, sender.origin)).length;
        assert.ok(before > 0 && before < 3000, `killed mid-stream (${before} of 3000 stored)`);
        d = await serve(store);
        const again = sender.start(store, j, true);
        await waitFor(store, sender.origin, 3000);
        await again.stop();
        await assertStored(store, sender.origin, 3000, [j]);
      } finally {
        await d.stop();
      }
    });
  });
}

describe("the collector's resume rule", { timeout: 60_000 }, () => {
  test("only a resumed session's first entry, and only the resume cursor's own, is dropped", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const d = await serve(store);
    const env = { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "journal" };
    const session = async (resume: boolean, ...ns: number[]) => {
      const body = Buffer.concat([resume ? RESUME_REQUEST : Buffer.alloc(0), ...ns.map(journalEntry)]);
      const r = await ingest(store, "journal", body, env);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.toString("latin1");
    };
    try {
      assert.equal(await session(true, 1, 2, 3), "cursor=\n");
      // resumed at entry 3 (`journalctl --cursor`): entry 3 again first, dropped
      assert.equal(await session(true, 3, 4), "cursor=s=4b3a;i=3\n");
      // the resume cursor's entry, but not first: stored (the journal sent it twice)
      assert.equal(await session(true, 5, 4), "cursor=s=4b3a;i=4\n");
      // first, but the sender did not ask where to resume: stored
      assert.equal(await session(false, 4), "");
      const recs = await entries(store, "work");
      assert.deepEqual(messageNumbers(recs.map((r) => r.payload)), [1, 2, 3, 4, 5, 4, 4]);
      const closes = (await readAll(store, "work", "journal")).filter((r) => r.kind === "!close");
      assert.deepEqual(
        closes.map((r) => /duplicates=(\d+)/.exec(r.payload.toString("latin1"))?.[1] ?? "0"),
        ["0", "1", "0", "0"],
      );
    } finally {
      await d.stop();
    }
  });
});
