import { LogwardError } from "../errors.ts";
import { lineEmitter, Output } from "../query/emit.ts";
import { followStarts, streamEnds } from "../query/follow-from.ts";
import { readRecordRuns, selectStreams } from "../query/records.ts";
import { parseTarget } from "../query/target.ts";
import { timeBound } from "../query/time.ts";
import { checkStoreFormat } from "../store/format.ts";
import { decompressInline } from "../store/read.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const SHOW_HELP = `Usage: logward show ORIGIN[/STREAM] [options]

Prints one origin's records in receive order, across sealed (compressed) and active
segments. Without /STREAM, all streams of the origin are merged by receive time and each
line names its stream. Reads the store directly; the daemon need not run.

Output (default): the stored line, escaped, safe on a terminal:
  <receive time> [<stream>] <seq> <kind> <payload>
  kind is "." for a record the sender sent, "!open", "!close", "!gap", "!trunc", ... for
  records the collector made.

Options:
  --since T     records received at or after T
  --until T     records received before T
                T: RFC 3339 (2026-11-24T09:00:00Z), a date, 'now', or relative (-15m, -2h, -1d)
  --grep RE     only records whose (escaped) payload matches the regular expression RE
  --raw         the sender's original bytes, each record followed by the LF that
                followed it when sent (a last line sent without LF gets none), nothing
                else (the collector's own records are left out): for a lines stream
                this is the file that was sent, byte for byte, unless a line was over
                the record limit (cut: see its !trunc record)
  --json        one JSON object per line: origin, stream, time, seq, kind, ref, payload
                (payload in the escaped form; kind "data" or the collector record's name)
  --follow, -f  keep printing records as they arrive (without --since: from the last 10)
  --objects     only the opaque objects (blob streams), one line each:
                  <receive time> [<stream>] <seq> <size> <type> <sha256>
                (with --json: origin, stream, time, seq, size, type, sha256, stored);
                'logward get ORIGIN/STREAM SEQ' writes an object's bytes
  --store DIR   the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                else ~/.local/share/logward)
  -h, --help    show this help
`;

export async function showCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "show",
    args,
    {
      store: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      grep: { type: "string" },
      raw: { type: "boolean" },
      json: { type: "boolean" },
      follow: { type: "boolean", short: "f" },
      objects: { type: "boolean" },
    },
    { min: 1, max: 1 },
  );
  const out = new Output();
  // frames are decompressed on this thread: nothing else waits on it, and zlib's thread-pool
  // round trip costs more than the frame (5.5 M of 157 M instructions for a one-minute show)
  decompressInline(true);
  if (values.raw && values.json)
    throw new LogwardError("LW_USAGE", "--raw and --json cannot be used together; pick one.");
  if (values.follow && values.until !== undefined)
    throw new LogwardError("LW_USAGE", "--follow and --until cannot be used together; drop one of them.");
  const target = positionals[0]!;
  const { origin, stream } = parseTarget(target);
  let grep: RegExp | undefined;
  if (values.grep !== undefined) {
    try {
      grep = new RegExp(values.grep, "u");
    } catch (err) {
      throw new LogwardError(
        "LW_BAD_REGEX",
        `--grep '${values.grep}' is not a valid regular expression: ${(err as Error).message}.`,
      );
    }
  }
  // not the store's clock: its first use of `performance` loads perf_hooks, 1.7 ms of a start
  const now = Date.now() * 1000;
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const refs = await selectStreams(root, origin, stream);
  const multi = refs.length > 1;
  if (values.objects) {
    if (values.raw || values.follow || grep)
      throw new LogwardError(
        "LW_USAGE",
        "--objects lists objects only; it takes --since, --until and --json.",
      );
    const { listObjects, objectJson, objectLine } = await import("../query/objects.ts");
    for await (const o of listObjects(root, refs, { since, until }))
      await out.write(values.json ? objectJson(o) : objectLine(o, multi));
    await out.flush();
    return 0;
  }
  const mode = values.raw ? "raw" : values.json ? "json" : "text";
  const { emit, emitRun, seen, damaged } = lineEmitter(out, mode, grep, multi);

  // where each stream ends when we start, so --follow continues without a gap
  const ends = values.follow ? await streamEnds(root, refs) : null;

  if (!values.follow || since !== undefined) {
    for await (const run of readRecordRuns(root, refs, { since, until })) await emitRun(run);
  }
  await out.flush();

  if (values.follow) {
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // with --since: after what the history printed; without: the last 10 records first
    const starts = followStarts(refs, ends!, since !== undefined ? { printed: seen } : { tail: 10 });
    // loaded only here: its watchers are not needed for a plain read, which should start fast
    const { followStreams } = await import("../query/follow.ts");
    await followStreams(
      root,
      starts,
      async (line) => {
        emit(line);
        await out.flush();
      },
      controller.signal,
    );
    await out.flush();
  }
  warnDamaged(damaged());
  return 0;
}

export function warnDamaged(damaged: number): void {
  if (damaged > 0) {
    process.stderr.write(
      `logward: warning: ${damaged} stored line(s) were damaged or not display-safe and were shown escaped again; the segment files may have been edited or damaged.\n`,
    );
  }
}
