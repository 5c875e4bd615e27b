// The web UI API's reading of what is stored: the origins table (`ls`, with live state,
// quota use and recent alerts) and one stream's records (`show`), by the CLI's query code.
// Payloads are sent in their stored, escaped form: the page shows them as text.

import type { ServerResponse } from "node:http";
import { LogwardError } from "../errors.ts";
import { readAlerts } from "../query/alerts.ts";
import { displayPayload } from "../query/emit.ts";
import { outputJson, outputRows, readOutputsState } from "../query/output-state.ts";
import { originPolicy } from "../query/policy-state.ts";
import { readRecords, selectStreams } from "../query/records.ts";
import { summarizeStreams, summaryJson } from "../query/summary.ts";
import { recordJson } from "../query/target.ts";
import { collectDamage, damagedSentence } from "../store/damage.ts";
import { originDrops, readDropState } from "../store/drop-state.ts";
import { seekTimeForSeq, streamSegments } from "../store/read.ts";
import { formatTime, parseLine } from "../store/record.ts";
import type { ApiContext } from "./context.ts";
import { sendJson, sendJsonText } from "./http.ts";
import { intParam, originParam, type Params, streamParam, windowParams } from "./params.ts";

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 200;

/** GET /api/origins: every stream (as `ls --json`), live state, quota use, outputs, recent alerts. */
export async function origins(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const root = ctx.hooks.root;
  const rows = await summarizeStreams(root);
  const policy = ctx.hooks.policy();
  const live = ctx.hooks.liveStreams();
  const drops = readDropState(root);
  const alerts = [];
  const since = formatTime((Date.now() - 24 * 3600_000) * 1000);
  for await (const a of readAlerts(root, { since })) alerts.push(a);
  sendJson(res, 200, {
    streams: rows.map((r) => ({
      ...summaryJson(r, originPolicy(policy, r.origin)),
      live: live.has(`${r.origin}/${r.stream}`),
      drops: originDrops(drops, r.origin),
    })),
    disk: policy?.disk ?? null,
    outputs: outputRows(readOutputsState(root), rows).map(outputJson),
    alerts: alerts.slice(-100).reverse(),
  });
}

/**
 * GET /api/records?origin&stream[&since][&until][&from][&limit]: one stream's records in receive
 * order. Without `from` and `since`, the newest page; `from` is the first sequence number.
 */
export async function records(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  const root = ctx.hooks.root;
  const origin = originParam(p.get("origin"));
  const stream = streamParam(p.get("stream"));
  if (stream === undefined) throw new LogwardError("LW_USAGE", "Give the stream to read.");
  const [ref] = await selectStreams(root, origin, stream);
  const limit = intParam(p, "limit", DEFAULT_PAGE, 1, MAX_PAGE);
  const w = windowParams(p);
  const segs = await streamSegments(root, ref!.origin, ref!.stream);
  const firstSeq = segs[0]?.firstSeq ?? 0;
  const lastSeq = segs.at(-1)?.lastSeq ?? 0;
  let from = intParam(p, "from", 0, 0, Number.MAX_SAFE_INTEGER);
  if (from === 0 && w.since === undefined && w.until === undefined) from = Math.max(1, lastSeq - limit + 1);
  const seek = from > 0 ? await seekTimeForSeq(root, ref!, segs, from) : undefined;
  const since = seek !== undefined && (w.since === undefined || seek > w.since) ? seek : w.since;
  const out: string[] = [];
  // a damaged frame of a compressed segment is skipped and named in `damaged` for the page
  const { value: more, damaged } = await collectDamage(async () => {
    for await (const v of readRecords(root, [ref!], { since, until: w.until })) {
      const parsed = parseLine(v.block, v.start, v.end);
      if (!parsed || parsed.seq < from) continue;
      if (out.length === limit) return true;
      out.push(recordJson(v, parsed, displayPayload(v.block, parsed).text));
    }
    return false;
  });
  sendJsonText(
    res,
    `{"origin":${JSON.stringify(origin)},"stream":${JSON.stringify(stream)},"first_seq":${firstSeq},"last_seq":${lastSeq},"more":${more},"damaged":${JSON.stringify(damaged.map(damagedSentence))},"records":[${out.join(",")}]}`,
  );
}
