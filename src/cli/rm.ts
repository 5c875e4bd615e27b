import { userInfo } from "node:os";
import { createInterface } from "node:readline/promises";
import { removeRecords } from "../collector/admin.ts";
import { formatBytes } from "../config/units.ts";
import { LogwardError } from "../errors.ts";
import { summarizeStreams } from "../query/summary.ts";
import { timeBound } from "../query/time.ts";
import { checkStoreFormat } from "../store/format.ts";
import { ingestSocketPath } from "../store/layout.ts";
import { COLLECTOR_ORIGIN, checkName } from "../store/names.ts";
import { parseTime } from "../store/record.ts";
import { Store } from "../store/store.ts";
import type { RmRequest, RmResult } from "../wire/admin.ts";
import { askCollector } from "../wire/collector-client.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const RM_HELP = `Usage: logward rm ORIGIN[/STREAM] [--before T] [--yes] [--store DIR]

Deletes an origin's records: one stream, or all of them. With --before T, only the segments
whose newest record is older than T (a segment that also holds newer records stays whole),
and the objects whose !blob records they held.
Asks for confirmation on a terminal; --yes confirms in scripts. Every deletion (what, how
many records, by whom, when) is recorded in the collector's own origin (_logward/deletions),
which cannot be deleted. Works through the running collector, or alone when none runs.

Options:
  --before T    only records older than T (RFC 3339, a date, or relative: -30d)
  --yes         do not ask
  --store DIR   the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                else ~/.local/share/logward)
  -h, --help    show this help
`;

export async function rmCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "rm",
    args,
    { store: { type: "string" }, before: { type: "string" }, yes: { type: "boolean" } },
    { min: 1, max: 1 },
  );
  const target = positionals[0]!;
  const slash = target.indexOf("/");
  const originName = slash === -1 ? target : target.slice(0, slash);
  if (originName === COLLECTOR_ORIGIN) {
    throw new LogwardError(
      "LW_USAGE",
      `The collector's own origin ${COLLECTOR_ORIGIN} keeps the trail of deletions and cannot be deleted.`,
    );
  }
  const origin = checkName("origin", originName);
  const stream = slash === -1 ? null : checkName("stream", target.slice(slash + 1));
  const before = timeBound("--before", values.before, Date.now() * 1000);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const rows = (await summarizeStreams(root)).filter(
    (r) => r.origin === origin && (stream === null || r.stream === stream),
  );
  if (rows.length === 0) {
    throw new LogwardError(
      "LW_NOT_FOUND",
      `There is no ${stream ? `stream '${origin}/${stream}'` : `origin '${origin}'`} in the store ${root}; 'logward ls' lists what there is.`,
    );
  }
  const records = rows.reduce((n, r) => n + r.records, 0);
  const bytes = rows.reduce((n, r) => n + r.bytes, 0);
  const what = `${before ? "the records before " + before + " of " : "all "}${records} records (${formatBytes(bytes)}) of ${target}${rows.length > 1 ? ` (${rows.length} streams)` : ""}`;
  if (!values.yes) {
    if (!process.stdin.isTTY) {
      throw new LogwardError(
        "LW_USAGE",
        `Deleting ${what} needs confirmation; run it on a terminal or add --yes.`,
      );
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(
      `Delete ${what}? This is recorded and cannot be undone. Type 'yes' to delete: `,
    );
    rl.close();
    if (answer.trim() !== "yes") {
      process.stderr.write("logward: nothing was deleted: the answer was not 'yes'.\n");
      return 1;
    }
  }
  let by = `uid:${process.getuid?.() ?? "?"}`;
  try {
    by = `${userInfo().username}(uid:${process.getuid?.() ?? "?"})`;
  } catch {}
  const req: RmRequest = {
    origin,
    stream,
    beforeUs: before ? parseTime(before) : null,
    by: by.replace(/[^\x21-\x7e]/g, "?"),
  };
  let result: RmResult | null = await askCollector(ingestSocketPath(root), req);
  if (!result) {
    // no collector: be the one writer for as long as it takes
    const store = await Store.open(root);
    try {
      result = await removeRecords(store, null, req, () => false);
    } finally {
      await store.close();
    }
  }
  process.stdout.write(
    `Deleted ${result.records} records${result.objects ? ` and ${result.objects} object${result.objects === 1 ? "" : "s"}` : ""} (${formatBytes(result.bytes)}) of ${target}; recorded in ${COLLECTOR_ORIGIN}/deletions.\n`,
  );
  return 0;
}
