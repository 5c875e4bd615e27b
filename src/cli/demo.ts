// `logward demo`: the README's quick start. A real collector on a temporary store, three
// simulated VMs sending through the real exec-service path (`logward ingest` run as qrexec runs
// it: QREXEC_REMOTE_DOMAIN, QREXEC_SERVICE_ARGUMENT, stdin), hostile content included, then
// `ls` and `show` of what was stored. Nothing is simulated on the collector's side.

import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { styleText } from "node:util";
import { Collector } from "../collector/collector.ts";
import { loadConfig } from "../config/load.ts";
import { LogwardError } from "../errors.ts";
import { originsDir } from "../store/layout.ts";
import { parse } from "./args.ts";
import { lsCommand } from "./ls.ts";
import { showCommand } from "./show.ts";
import { storePath } from "./store-path.ts";

export const DEMO_HELP = `Usage: logward demo [--store DIR]

Starts a collector on a new temporary store (or DIR), sends logs from three simulated VMs
(work, personal, disp4711) through the real qrexec exec-service path, including hostile
content (ANSI and OSC escape sequences, a forged newline, a fake hostname, invalid UTF-8, an
oversize line), stops the collector, then prints 'logward ls' and 'logward show' of the
result and says where the store is. The demo's collector keeps at most 1 KiB of a record so
that the cut is easy to see (the default is 64 KiB).

Options:
  --store DIR   where to put the demo store (default: a new directory under $TMPDIR)
  -h, --help    show this help
`;

const BIN = join(import.meta.dirname, "../../bin/logward.js");
const DEMO_MAX_RECORD = 1024;

interface Call {
  origin: string;
  stream: string;
  format: "lines" | "journal";
  input: Buffer;
  what: string;
}

/** A journal export entry from text fields and (name, bytes) binary fields. */
function journalEntry(fields: (string | [string, Buffer])[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (typeof f === "string") parts.push(Buffer.from(`${f}\n`));
    else {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(f[1].length));
      parts.push(Buffer.from(`${f[0]}\n`), len, f[1], Buffer.from("\n"));
    }
  }
  parts.push(Buffer.from("\n"));
  return Buffer.concat(parts);
}

export function demoCalls(): Call[] {
  const lines = (...l: (string | Buffer)[]) =>
    Buffer.concat(l.flatMap((x) => [typeof x === "string" ? Buffer.from(x) : x, Buffer.from("\n")]));
  return [
    {
      origin: "work",
      stream: "app",
      format: "lines",
      what: "an application log with hostile lines",
      input: lines(
        "Nov 25 10:00:01 work sshd[812]: Accepted publickey for user from 10.137.0.5",
        "\x1b[2J\x1b[31mANSI: this would clear your screen and paint it red\x1b[0m",
        "\x1b]0;owned\x07OSC: this would set your terminal's title",
        "a forged newline follows\r2026-11-25T00:00:00.000000Z 1 !close session=0 reason=eof",
        "Nov 25 10:00:02 personal sudo: root login (a fake hostname: the channel says this is work)",
        Buffer.concat([
          Buffer.from("invalid UTF-8: "),
          Buffer.from([0xff, 0xfe, 0xc0, 0xaf]),
          Buffer.from(" and a bidi override \u202e'olleh'"),
        ]),
        `an oversize line: ${"A".repeat(3000)}`,
        "the last line has no newline, and is still a record",
      ).subarray(0, -1),
    },
    {
      origin: "personal",
      stream: "journal",
      format: "journal",
      what: "journald export, resumable by cursor",
      input: Buffer.concat([
        Buffer.from("?resume\n"),
        journalEntry([
          "__CURSOR=s=7d1c;i=1",
          "__REALTIME_TIMESTAMP=1764064800000000",
          "_HOSTNAME=work",
          "SYSLOG_IDENTIFIER=kernel",
          "MESSAGE=a journal entry whose _HOSTNAME claims to be work",
        ]),
        journalEntry([
          "__CURSOR=s=7d1c;i=2",
          "__REALTIME_TIMESTAMP=1764064801000000",
          "SYSLOG_IDENTIFIER=evil",
          ["MESSAGE", Buffer.from("a binary field\nwith a forged newline \x1b[8mand hidden text\x1b[0m")],
        ]),
      ]),
    },
    {
      origin: "disp4711",
      stream: "main",
      format: "lines",
      what: "a disposable VM, destroyed after its session",
      input: lines(
        "disposable disp4711 started",
        "opening an attachment",
        "disposable disp4711 shutting down",
      ),
    },
    {
      origin: "disp4711",
      stream: "main",
      format: "lines",
      what: "a later disposable that reused the name disp4711",
      input: lines("disposable disp4711 started (a different VM, same name)"),
    },
  ];
}

/** Runs `logward ingest` exactly as qrexec would; resolves with its exit code and stderr. */
function runIngest(store: string, call: Call): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "ingest", "--format", call.format, "--store", store], {
      stdio: ["pipe", "ignore", "pipe"],
      env: {
        PATH: process.env.PATH,
        QREXEC_REMOTE_DOMAIN: call.origin,
        QREXEC_SERVICE_ARGUMENT: call.stream,
      },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on("error", () => {});
    child.stdin.end(call.input);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parse("demo", args, { store: { type: "string" } }, { min: 0, max: 0 });
  const store = values.store ? storePath(values.store) : mkdtempSync(join(tmpdir(), "logward-demo-"));
  const say = (text: string) =>
    process.stdout.write(`${styleText("bold", text, { stream: process.stdout })}\n`);
  const config = { ...loadConfig(store), maxRecordBytes: DEMO_MAX_RECORD };
  const collector = await Collector.start(store, config);
  say(`# A collector is running on ${store}; three VMs send their logs through 'logward ingest'.`);
  try {
    const calls = demoCalls();
    // the disposable's second session is a later VM: it runs after the first one
    const later = calls.pop()!;
    const results = await Promise.all(calls.map((c) => runIngest(store, c)));
    results.push(await runIngest(store, later));
    calls.push(later);
    for (const [i, r] of results.entries()) {
      const c = calls[i]!;
      process.stdout.write(
        `  ${c.origin}/${c.stream} (${c.format}): ${c.what}: ${r.code === 0 ? "durable, ingest exited 0" : `ingest exited ${r.code}: ${r.stderr.trim()}`}\n`,
      );
      if (r.code !== 0) {
        throw new LogwardError(
          "LW_NOT_DURABLE",
          `The demo's ingest for ${c.origin} failed: ${r.stderr.trim()}`,
        );
      }
    }
  } finally {
    await collector.stop();
  }
  say("\n# logward ls");
  await lsCommand(["--store", store]);
  say("\n# logward show work/app   (escaped: nothing in it can reach your terminal as a control)");
  await showCommand(["--store", store, "work/app"]);
  say("\n# logward show disp4711   (two disposables with one name, told apart by their session ids)");
  await showCommand(["--store", store, "disp4711"]);
  say("\n# logward show personal/journal --grep MESSAGE");
  await showCommand(["--store", store, "personal/journal", "--grep", "MESSAGE"]);
  say(`\n# The store is ${store}: plain text, readable without logward.`);
  process.stdout.write(
    `  export LOGWARD_STORE=${store}\n` +
      "  logward show work/app --raw | od -c | head    # the original bytes, exactly\n" +
      "  logward show _logward                         # the collector's own events\n" +
      `  grep -r sshd ${originsDir(store)}    # no logward needed\n` +
      `  rm -r ${store}    # when you are done\n`,
  );
  return 0;
}
