import { LogwardError } from "../errors.ts";
import { globToRegExp } from "../policy/config.ts";
import { readRecords } from "../query/records.ts";
import { isDisplaySafe } from "../store/escape.ts";
import { listStreams, type StreamRef } from "../store/read.ts";
import { parseLine } from "../store/record.ts";
import { checkStoreFormat, wallClockUs } from "../store/store.ts";
import { parse } from "./args.ts";
import { exitQuietlyOnEpipe, Output } from "./output.ts";
import { warnDamaged } from "./show.ts";
import { storePath } from "./store-path.ts";
import { timeBound } from "./time.ts";

export const SEARCH_HELP = `Usage: logward search PATTERN [options]

Searches the records of every origin (or those named) across active and compressed segments,
and prints each hit as ORIGIN/STREAM and the stored line, in receive order per origin. The
pattern is matched against the payload as stored (escaped), i.e. what 'show' prints: an
escape sequence is found as \\x1b, a newline inside a record as \\n.

Options:
  --origin GLOB    only origins matching GLOB (* and ?), e.g. 'disp*'
  --stream GLOB    only streams matching GLOB
  --since T        records received at or after T (RFC 3339, a date, 'now', -15m, -2h, -1d)
  --until T        records received before T
  --fixed          PATTERN is a plain string (the default)
  --regex          PATTERN is a regular expression (JavaScript syntax)
  --ignore-case    match regardless of case
  --count          print the number of matching records per origin/stream, and the total
  --json           one JSON object per hit: origin, stream, time, seq, kind, ref, payload
  --store DIR      the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                   else ~/.local/share/logward)
  -h, --help       show this help
`;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "search",
    args,
    {
      store: { type: "string" },
      origin: { type: "string" },
      stream: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      fixed: { type: "boolean" },
      regex: { type: "boolean" },
      "ignore-case": { type: "boolean" },
      count: { type: "boolean" },
      json: { type: "boolean" },
    },
    { min: 1, max: 1 },
  );
  const pattern = positionals[0]!;
  if (values.fixed && values.regex)
    throw new LogwardError("LW_USAGE", "--fixed and --regex cannot be used together; pick one.");
  if (values.count && values.json)
    throw new LogwardError("LW_USAGE", "--count and --json cannot be used together; pick one.");
  if (pattern.length === 0)
    throw new LogwardError(
      "LW_USAGE",
      "The search pattern is empty; give a string or, with --regex, an expression.",
    );
  let re: RegExp | null = null;
  // a case-sensitive plain string is searched in the stored bytes directly (no per-line string)
  const needle = !values.regex && !values["ignore-case"] ? Buffer.from(pattern) : null;
  if (!needle) {
    try {
      re = new RegExp(values.regex ? pattern : escapeRegExp(pattern), `u${values["ignore-case"] ? "i" : ""}`);
    } catch (err) {
      throw new LogwardError(
        "LW_BAD_REGEX",
        `'${pattern}' is not a valid regular expression: ${(err as Error).message}.`,
      );
    }
  }
  for (const [opt, v] of [
    ["--origin", values.origin],
    ["--stream", values.stream],
  ] as const) {
    if (v !== undefined && !/^[A-Za-z0-9_.*?-]{1,64}$/.test(v)) {
      throw new LogwardError(
        "LW_USAGE",
        `${opt} must be a glob of letters, digits, '_', '.', '-', '*' and '?'.`,
      );
    }
  }
  const originRe = values.origin ? globToRegExp(values.origin) : null;
  const streamRe = values.stream ? globToRegExp(values.stream) : null;
  const now = wallClockUs()();
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const refs = (await listStreams(root)).filter(
    (r) => (!originRe || originRe.test(r.origin)) && (!streamRe || streamRe.test(r.stream)),
  );
  const byOrigin = new Map<string, StreamRef[]>();
  for (const r of refs) byOrigin.set(r.origin, [...(byOrigin.get(r.origin) ?? []), r]);

  const out = new Output();
  exitQuietlyOnEpipe();
  let total = 0;
  let damaged = 0;
  const counts = new Map<string, number>();
  for (const [, streams] of [...byOrigin].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    for await (const v of readRecords(root, streams, { since, until })) {
      const { block, start, end } = v;
      const p = parseLine(block, start, end);
      if (!p) continue;
      if (needle) {
        const at = block.indexOf(needle, p.payloadStart);
        if (at === -1 || at + needle.length > p.payloadEnd) continue;
      } else if (!re!.test(block.toString("utf8", p.payloadStart, p.payloadEnd))) continue;
      total++;
      const key = `${v.ref.origin}/${v.ref.stream}`;
      if (values.count) {
        counts.set(key, (counts.get(key) ?? 0) + 1);
        continue;
      }
      const safe = isDisplaySafe(block, start, end);
      if (!safe) {
        damaged++;
        continue; // a damaged line is reported, never printed as is
      }
      if (values.json) {
        const obj = {
          origin: v.ref.origin,
          stream: v.ref.stream,
          time: p.time,
          seq: p.seq,
          kind: p.kind === "." ? "data" : p.kind.slice(1),
          ...(p.ref !== undefined ? { ref: p.ref } : {}),
          payload: block.toString("utf8", p.payloadStart, p.payloadEnd),
        };
        const w = out.write(`${JSON.stringify(obj)}\n`);
        if (w) await w;
      } else {
        out.write(`${key} `);
        const w = out.write(block, start, end + 1);
        if (w) await w;
      }
    }
  }
  if (values.count) {
    for (const [key, n] of [...counts].sort()) out.write(`${key} ${n}\n`);
    out.write(`total ${total}\n`);
  }
  await out.flush();
  warnDamaged(damaged);
  return total > 0 || values.count ? 0 : 1;
}
