import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { BlobShipper } from "../agent/blob-ship.ts";
import { Shipper } from "../agent/ship.ts";
import { type OverflowPolicy, POLICIES } from "../agent/spool.ts";
import { parseDuration, parseSize } from "../config/units.ts";
import { LogwardError } from "../errors.ts";
import { isValidName } from "../store/names.ts";
import { parse } from "./args.ts";
import { warn } from "./run.ts";

export const SHIP_HELP = `Usage: logward ship SOURCES... (--via 'CMD' | --connect unix:PATH) [options]

The sender agent. Reads log sources, keeps every record in a durable spool until the collector
confirms it is fsync'd there, and resumes after any crash or disconnection from what the
collector holds: nothing lost, nothing twice. All sources go to one stream.

Sources (any combination):
  --file PATH            follow a file (repeatable); follows rotation by rename and by
                         truncation, and resumes where it stopped
  --journal              the systemd journal, from the last spooled cursor
  --journalctl CMD       the command to run instead of journalctl
  --syslog-socket PATH   a Unix datagram socket like /dev/log (needs python3); one record a datagram
  --stdin                standard input, one record a line
  --command 'CMD'        the output lines of CMD, run again with backoff when it exits (repeatable)

Or whole files, each content once (by SHA-256), to a logward.Blob+STREAM channel (not
combined with the sources above):
  --blob PATH            a file, shipped whenever a new content of it is complete (repeatable)
  --blob-dir DIR         every file in DIR (not in subdirectories; not hidden files or names
                         ending in .tmp, .part, .partial, .swp or ~), e.g. EVTX exports, closed
                         audit trails, pcap captures (repeatable)
  --settle DURATION      complete = unchanged this long and open for writing by no process
                         (default 10s)
  --retry-failed         offer again contents the collector refused for good (too large)

Channel (one of):
  --via 'CMD'            a command whose stdin/stdout reach the collector, e.g.
                         'qrexec-client-vm logvm logward.Agent+app'; with --blob/--blob-dir
                         run once per file with the file as its stdin, e.g.
                         'qrexec-client-vm logvm logward.Blob+evtx'
  --connect unix:PATH    a local collector socket ([[collector.local]] in its config; records only)

Options:
  --stream NAME          the stream (default "main"; must equal the qrexec service argument)
  --spool DIR            the spool (default /var/lib/logward-ship/STREAM for root, else
                         ~/.local/state/logward/ship/STREAM); with --blob/--blob-dir it holds
                         blobs.log, the contents the collector has
  --spool-max SIZE       the spool's limit on disk (default 256MiB)
  --spool-policy P       when full: drop-oldest (default) or drop-newest; drops are counted and
                         reach the collector as a gap record
  --once                 exit 0 once everything the sources had at start is acknowledged;
                         with --blob/--blob-dir: every file present at start that is complete
                         (or becomes so within the settle time), else exit 1 naming what failed
  --retry-max DURATION   the longest wait between reconnections (default 60s)
  -h, --help             show this help
`;

function defaultSpool(stream: string): string {
  if (process.getuid?.() === 0) return join("/var/lib/logward-ship", stream);
  const state = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(state, "logward", "ship", stream);
}

export async function shipCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "ship",
    args,
    {
      file: { type: "string", multiple: true },
      journal: { type: "boolean" },
      journalctl: { type: "string" },
      "syslog-socket": { type: "string" },
      stdin: { type: "boolean" },
      command: { type: "string", multiple: true },
      via: { type: "string" },
      connect: { type: "string" },
      stream: { type: "string" },
      spool: { type: "string" },
      "spool-max": { type: "string" },
      "spool-policy": { type: "string" },
      once: { type: "boolean" },
      "retry-max": { type: "string" },
      blob: { type: "string", multiple: true },
      "blob-dir": { type: "string", multiple: true },
      settle: { type: "string" },
      "retry-failed": { type: "boolean" },
    },
    { min: 0, max: 0 },
  );
  const stream = values.stream ?? "main";
  if (!isValidName(stream)) {
    throw new LogwardError(
      "LW_BAD_NAME",
      "--stream must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit.",
    );
  }
  const files = (values.file ?? []).map((f) => resolve(f));
  const commands = values.command ?? [];
  const blobs = (values.blob ?? []).map((f) => resolve(f));
  const blobDirs = (values["blob-dir"] ?? []).map((f) => resolve(f));
  if (blobs.length > 0 || blobDirs.length > 0) return shipBlobs(values, stream, blobs, blobDirs);
  if (values.settle !== undefined || values["retry-failed"]) {
    throw new LogwardError("LW_USAGE", "--settle and --retry-failed go with --blob or --blob-dir.");
  }
  if (
    files.length === 0 &&
    !values.journal &&
    !values["syslog-socket"] &&
    !values.stdin &&
    commands.length === 0
  ) {
    throw new LogwardError(
      "LW_USAGE",
      "Name at least one source (--file, --journal, --syslog-socket, --stdin, --command, --blob or --blob-dir); see 'logward ship --help'.",
    );
  }
  if ((values.via === undefined) === (values.connect === undefined)) {
    throw new LogwardError(
      "LW_USAGE",
      "Name exactly one channel to the collector, --via 'CMD' or --connect unix:PATH; see 'logward ship --help'.",
    );
  }
  let socket: string | undefined;
  if (values.connect !== undefined) {
    if (!values.connect.startsWith("unix:/")) {
      throw new LogwardError("LW_USAGE", "--connect takes unix:/absolute/path/to/the/socket.");
    }
    socket = values.connect.slice(5);
  }
  const spoolMax = parseSize(values["spool-max"] ?? "256MiB");
  if (spoolMax === null || spoolMax < 1024 * 1024) {
    throw new LogwardError("LW_USAGE", '--spool-max must be a size of at least 1MiB, such as "256MiB".');
  }
  const policy = (values["spool-policy"] ?? "drop-oldest") as OverflowPolicy;
  if (!POLICIES.includes(policy)) {
    throw new LogwardError("LW_USAGE", "--spool-policy must be drop-oldest or drop-newest.");
  }
  const retryMaxMs = durationOption("retry-max", values["retry-max"], 60_000);
  const shipper = new Shipper({
    stream,
    spoolDir: resolve(values.spool ?? defaultSpool(stream)),
    spoolMax,
    policy,
    via: values.via,
    socket,
    once: values.once ?? false,
    retryMaxMs,
    files,
    journal: values.journal ?? false,
    journalctl: values.journalctl,
    syslogSocket: values["syslog-socket"],
    stdin: values.stdin ?? false,
    commands,
    warn: (m) => warn(`logward ship: ${m}`),
  });
  process.once("SIGTERM", () => shipper.stop());
  process.once("SIGINT", () => shipper.stop());
  return shipper.run();
}

/** A duration option of at least 1s (--retry-max, --settle), else its default. */
function durationOption(flag: string, value: string | undefined, defaultMs: number): number {
  const ms = value === undefined ? defaultMs : parseDuration(value);
  if (ms === null || ms < 1000) {
    throw new LogwardError(
      "LW_USAGE",
      `--${flag} must be a duration of at least 1s, such as "${defaultMs / 1000}s".`,
    );
  }
  return ms;
}

/** `--blob`/`--blob-dir`: whole files over a logward.Blob channel (src/agent/blob-ship.ts). */
async function shipBlobs(
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  stream: string,
  paths: string[],
  dirs: string[],
): Promise<number> {
  const mixed = ["file", "journal", "journalctl", "syslog-socket", "stdin", "command"].filter(
    (k) => values[k] !== undefined,
  );
  if (mixed.length > 0) {
    throw new LogwardError(
      "LW_USAGE",
      `--blob and --blob-dir ship whole files over their own channel (logward.Blob) and cannot be combined with --${mixed[0]}; run a second logward ship for the records.`,
    );
  }
  if (values.via === undefined || values.connect !== undefined) {
    throw new LogwardError(
      "LW_USAGE",
      "--blob and --blob-dir need --via 'CMD', a command run once per file with the file on its standard input, e.g. 'qrexec-client-vm logvm logward.Blob+evtx'.",
    );
  }
  if (values["spool-max"] !== undefined || values["spool-policy"] !== undefined) {
    throw new LogwardError(
      "LW_USAGE",
      "--spool-max and --spool-policy apply to record sources, not to --blob or --blob-dir.",
    );
  }
  const settleMs = durationOption("settle", values.settle as string | undefined, 10_000);
  const shipper = new BlobShipper({
    stream,
    spoolDir: resolve((values.spool as string | undefined) ?? defaultSpool(stream)),
    via: values.via as string,
    paths,
    dirs,
    settleMs,
    once: values.once === true,
    retryMaxMs: durationOption("retry-max", values["retry-max"] as string | undefined, 60_000),
    retryFailed: values["retry-failed"] === true,
    warn: (m) => warn(`logward ship: ${m}`),
  });
  process.once("SIGTERM", () => shipper.stop());
  process.once("SIGINT", () => shipper.stop());
  return shipper.run();
}
