// The journald shell sender (packaging/qubes/sender/bin/logward-journal-sender) against the real
// collector: its stdin/stdout joined to a real `logward ingest --format journal`, as
// qrexec-client-vm joins a local program to a remote service; a stand-in journalctl serves a
// fixed export stream. And `logward ship --journal` with the same stand-in.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BIN, logward } from "./helpers/cli.ts";
import { serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const SENDER = join(import.meta.dirname, "../packaging/qubes/sender/bin/logward-journal-sender");
const STANDIN = `'${process.execPath}' '${join(import.meta.dirname, "fixtures/journalctl.ts")}'`;

/** Export entries; entry 3 has a binary MESSAGE with a newline and an escape sequence. */
function entry(i: number): Buffer {
  const head = `__CURSOR=s=ab12;i=${i.toString(16)};b=77\n__REALTIME_TIMESTAMP=${1764000000000000 + i}\n_HOSTNAME=fake-${i}\n`;
  if (i !== 3) return Buffer.from(`${head}MESSAGE=entry ${i}\n\n`);
  const msg = Buffer.from("line one\nline two \x1b[2J");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(msg.length));
  return Buffer.concat([Buffer.from(`${head}MESSAGE\n`), len, msg, Buffer.from("\n\n")]);
}

function fixture(dir: string, n: number): string {
  const file = join(dir, "journal.json");
  writeFileSync(file, JSON.stringify(Array.from({ length: n }, (_, i) => entry(i + 1).toString("base64"))));
  return file;
}

/** qrexec-client-vm logvm logward.Journal+journal SENDER, with the collector side run locally. */
function qrexecCall(
  store: string,
  fixtureFile: string,
): Promise<{ ingest: number | null; sender: number | null }> {
  const ingest = spawn(process.execPath, [BIN, "ingest", "--format", "journal", "--store", store], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { PATH: process.env.PATH, QREXEC_REMOTE_DOMAIN: "personal", QREXEC_SERVICE_ARGUMENT: "journal" },
  });
  const sender = spawn("sh", [SENDER], {
    stdio: ["pipe", "pipe", "inherit"],
    // the script splits JOURNALCTL at spaces (no quotes), as a shell variable holding a command
    env: { PATH: process.env.PATH, JOURNALCTL: STANDIN.replaceAll("'", ""), JOURNAL_FIXTURE: fixtureFile },
  });
  sender.stdout.pipe(ingest.stdin);
  ingest.stdout.pipe(sender.stdin);
  sender.stdin.on("error", () => {});
  const code = (p: typeof ingest) => new Promise<number | null>((r) => p.once("close", (c) => r(c)));
  return Promise.all([code(ingest), code(sender)]).then(([i, s]) => ({ ingest: i, sender: s }));
}

describe("the journald shell sender", { timeout: 60_000 }, () => {
  test("resumes after the collector's durable cursor: every entry once, binary fields intact", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const d = await serve(store);
    try {
      assert.deepEqual(await qrexecCall(store, fixture(dir, 5)), { ingest: 0, sender: 0 });
      // the journal grows; the next call starts after entry 5, as the collector says
      assert.deepEqual(await qrexecCall(store, fixture(dir, 8)), { ingest: 0, sender: 0 });
      assert.deepEqual(await qrexecCall(store, fixture(dir, 8)), { ingest: 0, sender: 0 });
      const recs = (await readAll(store, "personal", "journal")).filter((r) => r.kind === ".");
      assert.deepEqual(
        recs.map((r) => r.ref),
        Array.from({ length: 8 }, (_, i) => `s=ab12;i=${(i + 1).toString(16)};b=77`),
      );
      // show --raw of the stream is the journal export stream again, byte for byte
      const raw = await logward(["show", "--store", store, "personal/journal", "--raw"]);
      assert.ok(raw.stdout.equals(Buffer.concat(Array.from({ length: 8 }, (_, i) => entry(i + 1)))));
    } finally {
      await d.stop();
    }
  });

  test("logward ship --journal: entries once across runs, resuming from the spooled cursor", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const d = await serve(store);
    const run = async (n: number) => {
      const r = await logward(
        [
          "ship",
          "--journal",
          "--journalctl",
          STANDIN,
          "--stream",
          "journal",
          "--spool",
          join(dir, "spool"),
          "--once",
          "--via",
          `QREXEC_REMOTE_DOMAIN=work QREXEC_SERVICE_ARGUMENT=journal '${process.execPath}' '${BIN}' ingest --format agent --store '${store}'`,
        ],
        { JOURNAL_FIXTURE: fixture(dir, n) },
      );
      assert.equal(r.code, 0, r.stderr);
    };
    try {
      await run(4);
      await run(8);
      const raw = await logward(["show", "--store", store, "work/journal", "--raw"]);
      assert.ok(raw.stdout.equals(Buffer.concat(Array.from({ length: 8 }, (_, i) => entry(i + 1)))));
    } finally {
      await d.stop();
    }
  });
});
