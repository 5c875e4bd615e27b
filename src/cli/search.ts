import { LogwardError } from "../errors.ts";
import { Output } from "../query/emit.ts";
import { followStreams } from "../query/follow.ts";
import { followStarts, streamEnds } from "../query/follow-from.ts";
import {
  type ObjectHit,
  type ObjectSearchNotes,
  objectHitJson,
  searchObjects,
  skippedJson,
  skippedSentence,
} from "../query/object-search.ts";
import type { LineView } from "../query/records.ts";
import { type Announced, compileMatcher, countFixed, matchLine, searchRecords } from "../query/search.ts";
import { matchingStreams, streamMatcher } from "../query/select.ts";
import {
  compileSyslogFilter,
  type FieldSpec,
  fieldSpec,
  recordFields,
  syslogJson,
} from "../query/syslog-filter.ts";
import { recordJson } from "../query/target.ts";
import { timeBound } from "../query/time.ts";
import { isDisplaySafe } from "../store/escape.ts";
import { checkStoreFormat } from "../store/format.ts";
import type { ParsedLine } from "../store/record.ts";
import { parse } from "./args.ts";
import { Progress } from "./progress.ts";
import { warnDamaged } from "./show.ts";
import { storePath } from "./store-path.ts";

export const SEARCH_HELP = `Usage: logward search PATTERN [options]
       logward search [PATTERN] --field KEY=VALUE|--severity RANGE [options]

Searches the records of every origin (or those named) across active and compressed segments,
and prints each hit as ORIGIN/STREAM and the stored line, in receive order per origin. The
pattern is matched against the payload as stored (escaped), i.e. what 'show' prints: an
escape sequence is found as \\x1b, a newline inside a record as \\n.

Objects (blob streams) of type text announced in the window (the time of an object is its
!blob record's) are searched too, line by line, each line escaped like a stored record; a hit
prints as ORIGIN/STREAM TIME SEQ:LLINE ESCAPED-LINE (SEQ is the object's, for 'logward get'),
after the origin's record hits. Other objects (evtx, bsm, pcap, pcapng, binary, and gzip or
zstd, which are not decompressed) are not searched: one line on stderr names them.

Syslog fields: --field and --severity keep only records whose syslog header (RFC 5424 or
RFC 3164, as docs/PROTOCOL.md describes it) has those values, read from each record at search
time; every filter and PATTERN must hold. With a filter PATTERN may be left out. Objects are
not searched then, nor collector records (!open, ...).

Options:
  --origin GLOB    only origins matching GLOB (* and ?), e.g. 'disp*'
  --stream GLOB    only streams matching GLOB
  --since T        records received at or after T (RFC 3339, a date, 'now', -15m, -2h, -1d)
  --until T        records received before T
  --fixed          PATTERN is a plain string (the default)
  --regex          PATTERN is a regular expression (JavaScript syntax)
  --ignore-case    match regardless of case
  --field KEY=VALUE  (repeatable) KEY: facility (auth, local0..local7, 0-23), severity (as
                   --severity), host (the claimed HOSTNAME, any case), app (APP-NAME or TAG),
                   procid, msgid, sd (an SD-ID, or SD-ID.PARAM=VALUE); a VALUE with * or ?
                   is a glob, else it must be exact, e.g. --field app=sshd --field 'host=web*'
  --severity RANGE err (that severity), ..err (err or more severe), warning.. (warning or
                   less severe), crit..warning; names emerg alert crit err warning notice
                   info debug (RFC 5424), or 0-7
  --parse          with --json: add each record's parsed header as a "syslog" object (given
                   anyway with --field or --severity)
  --count          print the number of matching records and object lines per origin/stream,
                   then 'objects-skipped N' when objects were not searched, and the total
  --json           one JSON object per hit: origin, stream, time, seq, kind, ref, payload;
                   a line of an object: kind "object-line", object_seq, line, sha256, payload;
                   last, when objects were not searched: kind "objects-skipped", count, objects
  --follow, -f     after the hits so far, keep printing new ones as they are stored, also
                   from origins and streams that appear later (inotify, no polling; objects
                   stored after the search started are not searched)
  --store DIR      the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                   else ~/.local/share/logward)
  -h, --help       show this help
`;

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
      follow: { type: "boolean", short: "f" },
      field: { type: "string", multiple: true },
      severity: { type: "string" },
      parse: { type: "boolean" },
    },
    { min: 0, max: 1 },
  );
  const specs: FieldSpec[] = (values.field ?? []).map((f) => fieldSpec("--field", f));
  if (values.severity !== undefined)
    specs.push({ option: "--severity", key: "severity", value: values.severity });
  const fields = compileSyslogFilter(specs);
  if (positionals.length === 0 && !fields)
    throw new LogwardError(
      "LW_USAGE",
      "'logward search' takes 1 argument, not 0 (or a --field or --severity filter); see 'logward search --help'.",
    );
  const pattern = positionals[0] ?? "";
  // the parsed header in --json: asked for, or implied by a filter on it
  const withSyslog = values.parse || fields !== null;
  if (values.fixed && values.regex)
    throw new LogwardError("LW_USAGE", "--fixed and --regex cannot be used together; pick one.");
  if (values.count && values.json)
    throw new LogwardError("LW_USAGE", "--count and --json cannot be used together; pick one.");
  const matcher = compileMatcher(pattern, {
    regex: values.regex,
    ignoreCase: values["ignore-case"],
    fields,
  });
  const chosen = streamMatcher({ origin: values.origin, stream: values.stream }, "--");
  const now = Date.now() * 1000;
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const refs = await matchingStreams(root, chosen);

  const out = new Output();
  let total = 0;
  let damaged = 0;
  const counts = new Map<string, number>();
  /** One matching line: count it or print it (escaped, or as JSON). */
  const onHit = (v: LineView, p: ParsedLine): Promise<void> | undefined => {
    const { block, start, end } = v;
    total++;
    const key = `${v.ref.origin}/${v.ref.stream}`;
    if (values.count) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return undefined;
    }
    if (!isDisplaySafe(block, start, end)) {
      damaged++;
      return undefined; // a damaged line is reported, never printed as is
    }
    if (values.json) {
      const payload = block.toString("utf8", p.payloadStart, p.payloadEnd);
      const extra = withSyslog ? { syslog: syslogJson(recordFields(block, p)) } : undefined;
      return out.write(`${recordJson(v, p, payload, extra)}\n`);
    }
    out.write(`${key} `);
    return out.write(block, start, end + 1);
  };

  /** One matching line inside an object: count it or print it (escaped, or as JSON). */
  const onObjectHit = (h: ObjectHit): Promise<void> | undefined => {
    total++;
    const o = h.object;
    const key = `${o.origin}/${o.stream}`;
    if (values.count) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return undefined;
    }
    if (values.json) return out.write(objectHitJson(h));
    out.write(`${key} ${o.time} ${o.seq}:L${h.line} `);
    out.write(h.escaped);
    return out.write("\n");
  };
  const notes: ObjectSearchNotes = { skipped: [], damaged: [] };

  // --follow: where each stream ends now, so that following continues without a gap
  const ends = values.follow ? await streamEnds(root, refs) : null;

  const w = { since, until };
  if (values.count && matcher.needle) {
    // counting needs no order: several streams at once, so that decompression (on libuv's
    // thread pool) and scanning use both cores
    // the streams' objects are found in the same pass (objects have no syslog header: a field
    // filter leaves them out)
    const announced: Announced | null = fields ? null : new Map();
    for (const [key, n] of await countFixed(root, refs, w, matcher.needle, fields, announced)) {
      if (n > 0) counts.set(key, n);
      total += n;
    }
    if (announced)
      for (const origin of [...new Set(refs.map((r) => r.origin))].sort())
        for await (const h of searchObjects(
          root,
          refs.filter((r) => r.origin === origin),
          w,
          matcher,
          notes,
          announced,
        ))
          onObjectHit(h);
  } else {
    const progress = new Progress(
      "searching",
      new Set(refs.map((r) => r.origin)).size,
      (n) => `${n} origins`,
    );
    for await (const hit of searchRecords(
      root,
      refs,
      w,
      matcher,
      (k) => progress.add(k === 0 ? 0 : 1),
      fields ? undefined : (streams, announced) => searchObjects(root, streams, w, matcher, notes, announced),
    )) {
      const wait = "object" in hit ? onObjectHit(hit) : onHit(hit.v, hit.p);
      if (wait) await wait;
    }
    progress.end();
  }
  if (values.count) {
    for (const [key, n] of [...counts].sort()) out.write(`${key} ${n}\n`);
    if (notes.skipped.length > 0) out.write(`objects-skipped ${notes.skipped.length}\n`);
    out.write(`total ${total}\n`);
  } else if (values.json && notes.skipped.length > 0) out.write(skippedJson(notes.skipped));
  await out.flush();
  for (const d of notes.damaged)
    process.stderr.write(`logward: warning: ${d} Its hits above may be wrong.\n`);
  process.stderr.write(skippedSentence(notes.skipped));
  if (values.follow) {
    const controller = new AbortController();
    process.once("SIGINT", () => controller.abort());
    process.once("SIGTERM", () => controller.abort());
    await followStreams(
      root,
      followStarts(refs, ends!),
      async (line) => {
        const p = matchLine(line, matcher);
        if (p) onHit(line, p);
        await out.flush();
      },
      controller.signal,
      chosen,
    );
    await out.flush();
    warnDamaged(damaged);
    return 0;
  }
  warnDamaged(damaged);
  return total > 0 || values.count ? 0 : 1;
}
