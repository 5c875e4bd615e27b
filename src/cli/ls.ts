import { formatBytes } from "../config/units.ts";
import { Output } from "../query/emit.ts";
import { type OutputRow, outputJson, outputRows, readOutputsState } from "../query/output-state.ts";
import { originPolicy, readPolicyState } from "../query/policy-state.ts";
import { summarizeStreams, summaryJson } from "../query/summary.ts";
import { type DropState, originDrops, readDropState } from "../store/drop-state.ts";
import { checkStoreFormat } from "../store/format.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const LS_HELP = `Usage: logward ls [--store DIR] [--json]

Lists every origin and stream in the store: records, bytes on disk, first and last receive
time, number of segments, and the origin's quota state as the collector last recorded it
(ok, near quota, at quota, refusing; QUOTA is the origin's use of its own quota) and DROPS,
what the collector dropped or refused of the origin since the store began (datagrams, connections,
messages; a line below the table gives each listener's). Reads the
store directly; the daemon need not run. When the collector has outputs ([[output]]), a second
table lists them: status, streams, position (records acknowledged), lag in records and seconds,
restarts and the last error (docs/OUTPUTS.md).

Options:
  --store DIR   the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                else ~/.local/share/logward)
  --json        print a JSON array of objects (origin, stream, records, bytes, first, last,
                segments, compressed_segments, first_seq, last_seq, objects, object_bytes
                (opaque objects of blob streams, counted in bytes too), state, origin_bytes,
                quota, group; the last four null when the collector has not recorded them; drops,
                0 when none were counted)
  --outputs     only the outputs; with --json a JSON array of objects (name, type, match,
                status, streams, position, lag_records, lag_seconds, restarts, last_error,
                last_error_at)
  -h, --help    show this help
`;

export async function lsCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "ls",
    args,
    {
      store: { type: "string" },
      json: { type: "boolean" },
      outputs: { type: "boolean" },
    },
    { min: 0, max: 0 },
  );
  const out = new Output();
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const rows = await summarizeStreams(root);
  const state = readPolicyState(root);
  const drops = readDropState(root);
  const outputs = outputRows(readOutputsState(root), rows);
  if (values.outputs) {
    if (values.json) await out.write(`${JSON.stringify(outputs.map(outputJson), null, 2)}\n`);
    else if (outputs.length === 0) await out.write("The collector has no outputs.\n");
    else await writeTable(out, outputsTable(outputs), new Set([3, 4, 5, 6, 7]));
  } else if (values.json) {
    const json = rows.map((r) => ({
      ...summaryJson(r, originPolicy(state, r.origin)),
      drops: originDrops(drops, r.origin),
    }));
    await out.write(`${JSON.stringify(json, null, 2)}\n`);
  } else if (rows.length === 0) {
    await out.write(`The store ${root} holds no records yet.\n`);
    await writeListenerDrops(out, drops);
  } else {
    // an OBJECTS column (blob streams' objects) only when some stream has objects
    const withObjects = rows.some((r) => r.objects > 0);
    const table = [
      [
        "ORIGIN",
        "STREAM",
        "RECORDS",
        "BYTES",
        "FIRST",
        "LAST",
        "SEGMENTS",
        ...(withObjects ? ["OBJECTS"] : []),
        "STATE",
        "QUOTA",
        "DROPS",
      ],
      ...rows.map((r) => {
        const p = originPolicy(state, r.origin);
        const quota = p?.quota ? `${Math.round((100 * p.bytes) / p.quota)}% of ${formatBytes(p.quota)}` : "-";
        return [
          r.origin,
          r.stream,
          String(r.records),
          formatBytes(r.bytes),
          r.first,
          r.last,
          String(r.segments),
          ...(withObjects ? [String(r.objects)] : []),
          p?.state ?? "-",
          quota,
          String(originDrops(drops, r.origin)),
        ];
      }),
    ];
    await writeTable(out, table, new Set(withObjects ? [2, 3, 6, 7, 10] : [2, 3, 6, 9]));
    await writeListenerDrops(out, drops);
    if (outputs.length > 0) {
      await out.write("\n");
      await writeTable(out, outputsTable(outputs), new Set([3, 4, 5, 6, 7]));
    }
  }
  await out.flush();
  return 0;
}

/** The outputs' table: one row each (LAST ERROR last, as it is long). */
function outputsTable(rows: readonly OutputRow[]): string[][] {
  return [
    ["OUTPUT", "TYPE", "STATUS", "STREAMS", "POSITION", "LAG", "LAG(S)", "RESTARTS", "LAST ERROR"],
    ...rows.map((o) => [
      o.name,
      o.type,
      o.status,
      String(o.streams),
      String(o.position),
      String(o.lagRecords),
      o.lagSeconds === null ? "?" : String(o.lagSeconds),
      String(o.restarts),
      o.lastError ? `${o.lastErrorAt ?? ""} ${o.lastError}`.trim() : "-",
    ]),
  ];
}

async function writeTable(out: Output, table: string[][], right: ReadonlySet<number>): Promise<void> {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) {
    const cells = row.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)));
    await out.write(`${cells.join("  ").trimEnd()}\n`);
  }
}

/** One line with each listener's drops, when there were any. */
async function writeListenerDrops(out: Output, drops: DropState | null): Promise<void> {
  const listeners = Object.entries(drops?.listeners ?? {}).filter(([, c]) => c.drops > 0);
  if (listeners.length === 0) return;
  await out.write(
    `Dropped or refused by listener: ${listeners.map(([l, c]) => `${escapeCell(l)} ${c.drops}`).join(", ")}\n`,
  );
}

/** A listener's address as the state file holds it: printable ASCII only. */
function escapeCell(text: string): string {
  return text.replace(/[^\x21-\x7e]/g, "?").slice(0, 200);
}
