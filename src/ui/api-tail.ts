// The web UI API's live tail (`logward show --follow`) as Server-Sent Events. A tail holds
// inotify watches and a connection until its reader goes away, so this UI caps how many are
// open (ApiContext.running.tails) and ends each one when its response closes.

import { once } from "node:events";
import type { ServerResponse } from "node:http";
import { LogwardError } from "../errors.ts";
import { displayPayload } from "../query/emit.ts";
import { followStreams } from "../query/follow.ts";
import { followStarts, streamEnds } from "../query/follow-from.ts";
import { type LineView, selectStreams } from "../query/records.ts";
import { recordJson } from "../query/target.ts";
import { parseLine } from "../store/record.ts";
import type { ApiContext } from "./context.ts";
import { SECURITY_HEADERS } from "./http.ts";
import { intParam, originParam, type Params, streamParam } from "./params.ts";

/** Live tails open at once in one UI: each holds inotify watches and a connection. */
const MAX_TAILS = 32;
const HEARTBEAT_MS = 15_000;

/** GET /api/tail?origin&stream: Server-Sent Events, one `record` event per new record. */
export async function tail(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  if (ctx.running.tails >= MAX_TAILS)
    throw new LogwardError("LW_BUSY", `${MAX_TAILS} live tails are open already; close some and try again.`);
  // the reader went away (or serve closes every connection): the response's close is that
  // signal, listened for before the first await, so a close while the streams are looked up
  // is not missed (a follower that never hears it keeps serve alive)
  const controller = new AbortController();
  res.once("close", () => controller.abort());
  if (res.closed) controller.abort();
  ctx.running.tails++;
  try {
    await tailStream(ctx, p, res, controller.signal);
  } finally {
    ctx.running.tails--;
  }
}

async function tailStream(
  ctx: ApiContext,
  p: Params,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const root = ctx.hooks.root;
  const origin = originParam(p.get("origin"));
  const refs = await selectStreams(root, origin, streamParam(p.get("stream")));
  const ends = await streamEnds(root, refs);
  // without `after`: from each stream's end now
  const after = p.get("after") ? intParam(p, "after", 0, 0, Number.MAX_SAFE_INTEGER) : undefined;
  const starts = followStarts(refs, ends, after === undefined ? {} : { after });
  if (signal.aborted) return;
  res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": "text/event-stream; charset=utf-8" });
  res.write(": live\n\n");
  const heartbeat = setInterval(() => res.write(": .\n\n"), HEARTBEAT_MS);
  try {
    await followStreams(
      root,
      starts,
      async (v: LineView) => {
        if (signal.aborted) return; // the catch-up may still be walking a segment: write nothing
        const parsed = parseLine(v.block, v.start, v.end);
        if (!parsed) return;
        const json = recordJson(v, parsed, displayPayload(v.block, parsed).text);
        // a drain never comes once the connection is gone: wait for either
        if (!res.write(`event: record\ndata: ${json}\n\n`))
          await once(res, "drain", { signal }).catch(() => {});
      },
      signal,
    );
  } finally {
    clearInterval(heartbeat);
    res.end();
  }
}
