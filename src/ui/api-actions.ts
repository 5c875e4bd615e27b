// The web UI API's actions on a selection, the origins table's Actions column: export
// (`logward export`, a download), delete (`logward rm`, through the collector's hook) and open
// in a viewer (`logward open`, run detached).

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { LogwardError } from "../errors.ts";
import { writeArchive } from "../query/export.ts";
import { openObject, openStoredLines, privateDir } from "../query/open.ts";
import { selectStreams } from "../query/records.ts";
import { streamsOfOrigins } from "../query/select.ts";
import { parseTimeOption, timeBound } from "../query/time.ts";
import { checkName } from "../store/names.ts";
import type { ApiContext } from "./context.ts";
import { SECURITY_HEADERS, sendJson } from "./http.ts";
import { originParam, type Params, readBody, str, streamParam, windowParams } from "./params.ts";

/** Exports one UI builds at once: each compresses a selection into a private file and holds
 * it until the download ends, so more would only compete for the CPU and the disk. */
const MAX_EXPORTS = 2;

/** GET /api/export?origin=A&origin=B[&since][&until]: the archive `logward export` writes. */
export async function exportArchive(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  const root = ctx.hooks.root;
  const wanted = p.getAll("origin").map((o) => originParam(o));
  const stream = streamParam(p.get("stream"));
  const w = windowParams(p);
  const refs = await streamsOfOrigins(root, wanted, stream);
  if (refs.length === 0)
    throw new LogwardError("LW_NOT_FOUND", "Nothing in the store matches that selection.");
  if (ctx.running.exports >= MAX_EXPORTS)
    throw new LogwardError(
      "LW_BUSY",
      `${MAX_EXPORTS} exports are being built or downloaded already; try again when one is done.`,
    );
  ctx.running.exports++;
  const { dir: work, remove } = privateDir("logward-ui-export-");
  try {
    const nowUs = Date.now() * 1000;
    const name = `logward-export-${new Date(nowUs / 1000).toISOString().replace(/[:.]/g, "-")}.tar.zst`;
    const file = join(work, name);
    await writeArchive(root, refs, w, nowUs, file);
    const { size } = await stat(file);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "application/zstd",
      "Content-Length": size,
      "Content-Disposition": `attachment; filename="${name}"`,
    });
    await pipeline(createReadStream(file), res);
  } finally {
    ctx.running.exports--;
    remove();
  }
}

/** POST /api/rm {origin, stream?, before?}: as `logward rm`, recorded in _logward/deletions. */
export async function remove(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const origin = checkName("origin", str(body.origin) ?? "");
  const stream = streamParam(str(body.stream));
  const before = str(body.before);
  const result = await ctx.hooks.remove({
    origin,
    stream: stream ?? null,
    beforeUs: before ? parseTimeOption("before", before, Date.now() * 1000) : null,
    by: "web-ui",
  });
  sendJson(res, result.ok ? 200 : 409, result);
}

/**
 * POST /api/open {origin, stream?, since?, until?}: as `logward open`, the viewer runs detached.
 * {origin, stream, seq}: the object record seq announced, as `logward open --seq`.
 */
export async function open(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const origin = originParam(str(body.origin));
  if (body.seq !== undefined && body.seq !== null && body.seq !== "") {
    const stream = streamParam(str(body.stream));
    const seq = Number(body.seq);
    if (!stream || !Number.isSafeInteger(seq) || seq < 1)
      throw new LogwardError(
        "LW_USAGE",
        "Opening an object needs its stream and a seq (a positive whole number).",
      );
    const { object, viewer } = await openObject(
      ctx.hooks.root,
      { origin, stream },
      seq,
      ctx.hooks.viewers,
      "ignore",
    );
    sendJson(res, 200, {
      records: 1,
      viewer,
      object: { seq: object.seq, type: object.type, size: object.size, sha256: object.sha256 },
    });
    return;
  }
  const refs = await selectStreams(ctx.hooks.root, origin, streamParam(str(body.stream)));
  const now = Date.now() * 1000;
  const w = {
    since: timeBound("since", str(body.since) || undefined, now),
    until: timeBound("until", str(body.until) || undefined, now),
  };
  sendJson(res, 200, await openStoredLines(ctx.hooks.root, refs, w, ctx.hooks.viewers));
}
