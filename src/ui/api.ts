// The web UI's JSON API (docs/UI.md), served by the same query code as the CLI: `ls`
// (summary.ts, policy-state.ts), `show` (records.ts), `search` (search.ts), `show --follow`
// (follow.ts), `export` (export.ts), `open` (open.ts), `alerts` (alerts.ts), and `rm` through
// the collector. Payloads are sent in their stored, escaped form: the page shows them as text.
//
// Every parameter is hostile until checked: names through the store's name rules, times
// through the CLI's time parser, numbers bounded; nothing builds a path from a raw string.

import { once } from "node:events";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type ErrorCode, LogwardError } from "../errors.ts";
import { readAlerts } from "../query/alerts.ts";
import { displayPayload } from "../query/emit.ts";
import { writeArchive } from "../query/export.ts";
import { followStreams } from "../query/follow.ts";
import { openObject, openStoredLines, privateDir } from "../query/open.ts";
import { originPolicy } from "../query/policy-state.ts";
import { type LineView, readRecords, selectStreams } from "../query/records.ts";
import { compileMatcher } from "../query/search.ts";
import { summarizeStreams, summaryJson } from "../query/summary.ts";
import { recordJson } from "../query/target.ts";
import { parseTimeOption, timeBound } from "../query/time.ts";
import { checkGlob, checkName, checkStoredOrigin } from "../store/names.ts";
import { listStreams, seekTimeForSeq, streamSegments, type Window } from "../store/read.ts";
import { formatTime, parseLine } from "../store/record.ts";
import { SECURITY_HEADERS, send, sendJson } from "./http.ts";
import type { SearchJob, SearchResult } from "./search-worker.ts";
import type { UiHooks } from "./server.ts";

export interface ApiContext {
  hooks: UiHooks;
}

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 200;
const MAX_HITS = 1000;
const MAX_BODY = 16 * 1024;
const HEARTBEAT_MS = 15_000;

type Params = URLSearchParams;

function originParam(value: string | null, what = "origin"): string {
  if (value === null || value === "") throw new LogwardError("LW_USAGE", `Give the ${what} to read.`);
  return checkStoredOrigin(value);
}

function streamParam(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : checkName("stream", value);
}

function intParam(p: Params, name: string, dflt: number, min: number, max: number): number {
  const v = p.get(name);
  if (v === null || v === "") return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new LogwardError("LW_USAGE", `${name} must be a whole number from ${min} to ${max}.`);
  return n;
}

function windowParams(p: Params): Window {
  const now = Date.now() * 1000;
  return {
    since: timeBound("since", p.get("since") || undefined, now),
    until: timeBound("until", p.get("until") || undefined, now),
  };
}

function globParam(p: Params, name: string): RegExp | null {
  const v = p.get(name);
  if (v === null || v === "") return null;
  return checkGlob(name, v);
}

/** GET /api/origins: every stream (as `ls --json`), live state, quota use, recent alerts. */
async function origins(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const root = ctx.hooks.root;
  const rows = await summarizeStreams(root);
  const policy = ctx.hooks.policy();
  const live = ctx.hooks.liveStreams();
  const alerts = [];
  const since = formatTime((Date.now() - 24 * 3600_000) * 1000);
  for await (const a of readAlerts(root, { since })) alerts.push(a);
  sendJson(res, 200, {
    streams: rows.map((r) => ({
      ...summaryJson(r, originPolicy(policy, r.origin)),
      live: live.has(`${r.origin}/${r.stream}`),
    })),
    disk: policy?.disk ?? null,
    alerts: alerts.slice(-100).reverse(),
  });
}

/**
 * GET /api/records?origin&stream[&since][&until][&from][&limit]: one stream's records in receive
 * order. Without `from` and `since`, the newest page; `from` is the first sequence number.
 */
async function records(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
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
  let more = false;
  for await (const v of readRecords(root, [ref!], { since, until: w.until })) {
    const parsed = parseLine(v.block, v.start, v.end);
    if (!parsed || parsed.seq < from) continue;
    if (out.length === limit) {
      more = true;
      break;
    }
    out.push(recordJson(v, parsed, displayPayload(v.block, parsed).text));
  }
  send200(
    res,
    `{"origin":${JSON.stringify(origin)},"stream":${JSON.stringify(stream)},"first_seq":${firstSeq},"last_seq":${lastSeq},"more":${more},"records":[${out.join(",")}]}`,
  );
}

function send200(res: ServerResponse, json: string): void {
  send(res, 200, "application/json; charset=utf-8", json);
}

/** Searches running at once, each in its own worker thread (the machine may have 2 cores). */
const MAX_SEARCHES = 2;
let searching = 0;
const WORKER = new URL(`./search-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * GET /api/search?q[&regex][&ignore_case][&origin][&stream][&since][&until][&limit]: in a
 * worker thread, stopped after [ui] search_timeout (LW_SEARCH_TIMEOUT) or when the page goes
 * away, so a catastrophic regular expression never stops the collector's event loop.
 */
async function search(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  const job: SearchJob = {
    root: ctx.hooks.root,
    pattern: p.get("q") ?? "",
    regex: p.get("regex") === "1",
    ignoreCase: p.get("ignore_case") === "1",
    origin: p.get("origin") || null,
    stream: p.get("stream") || null,
    window: windowParams(p),
    limit: intParam(p, "limit", 200, 1, MAX_HITS),
  };
  // a wrong parameter is answered here, without a worker
  compileMatcher(job.pattern, { regex: job.regex, ignoreCase: job.ignoreCase });
  globParam(p, "origin");
  globParam(p, "stream");
  if (searching >= MAX_SEARCHES)
    throw new LogwardError(
      "LW_BUSY",
      `${MAX_SEARCHES} searches are running already; try again when one ends.`,
    );
  searching++;
  try {
    const out = await inWorker(job, ctx.hooks.searchTimeoutMs, res);
    if (out) send200(res, `{"truncated":${out.truncated},"hits":[${out.hits.join(",")}]}`);
  } finally {
    searching--;
  }
}

/** Runs `job` in a worker; null when the page went away first. */
function inWorker(job: SearchJob, budgetMs: number, res: ServerResponse): Promise<SearchResult | null> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: job });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.off("close", gone);
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new LogwardError(
              "LW_SEARCH_TIMEOUT",
              `The search was stopped after ${budgetMs / 1000} s ([ui] search_timeout); narrow it (a plain string, an origin, a time window) or simplify the expression.`,
            ),
          ),
        ),
      budgetMs,
    );
    const gone = () => finish(() => resolve(null));
    res.once("close", gone);
    worker.once("message", (m: SearchResult | { error: { code: string; message: string } }) =>
      finish(() => {
        if ("error" in m) reject(new LogwardError(m.error.code as ErrorCode, m.error.message));
        else resolve(m);
      }),
    );
    worker.once("error", (err) => finish(() => reject(err)));
    worker.once("exit", (code) =>
      finish(() => reject(new Error(`the search worker ended (exit ${code}) without an answer`))),
    );
  });
}

/** Live tails open at once: each holds inotify watches and a connection. */
const MAX_TAILS = 32;
let openTails = 0;

/** GET /api/tail?origin&stream: Server-Sent Events, one `record` event per new record. */
async function tail(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  if (openTails >= MAX_TAILS)
    throw new LogwardError("LW_BUSY", `${MAX_TAILS} live tails are open already; close some and try again.`);
  // the reader went away (or serve closes every connection): the response's close is that
  // signal, listened for before the first await, so a close while the streams are looked up
  // is not missed (a follower that never hears it keeps serve alive)
  const controller = new AbortController();
  res.once("close", () => controller.abort());
  if (res.closed) controller.abort();
  openTails++;
  try {
    await tailStream(ctx, p, res, controller.signal);
  } finally {
    openTails--;
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
  const starts = [];
  for (const ref of refs) {
    const segs = await streamSegments(root, ref.origin, ref.stream);
    const after = intParam(p, "after", segs.at(-1)?.lastSeq ?? 0, 0, Number.MAX_SAFE_INTEGER);
    starts.push({ ref, nextSeq: after + 1 });
  }
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

/** GET /api/export?origin=A&origin=B[&since][&until]: the archive `logward export` writes. */
async function exportArchive(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  const root = ctx.hooks.root;
  const wanted = p.getAll("origin").map((o) => originParam(o));
  const stream = streamParam(p.get("stream"));
  const w = windowParams(p);
  const refs = (await listStreams(root)).filter(
    (r) =>
      (wanted.length === 0 || wanted.includes(r.origin)) && (stream === undefined || r.stream === stream),
  );
  if (refs.length === 0)
    throw new LogwardError("LW_NOT_FOUND", "Nothing in the store matches that selection.");
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
    remove();
  }
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(req.headers["content-type"] ?? ""))
    throw new LogwardError("LW_USAGE", "Send the action as application/json.");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new LogwardError("LW_USAGE", "The request is too large.");
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new LogwardError("LW_USAGE", "The request body is not a JSON object.");
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** POST /api/rm {origin, stream?, before?}: as `logward rm`, recorded in _logward/deletions. */
async function remove(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
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
async function open(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
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

export async function handleApi(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const p = url.searchParams;
  const route = `${req.method === "POST" ? "POST" : "GET"} ${url.pathname}`;
  switch (route) {
    case "GET /api/origins":
      return origins(ctx, res);
    case "GET /api/records":
      return records(ctx, p, res);
    case "GET /api/search":
      return search(ctx, p, res);
    case "GET /api/tail":
      return tail(ctx, p, res);
    case "GET /api/export":
      return exportArchive(ctx, p, res);
    case "POST /api/rm":
      return remove(ctx, req, res);
    case "POST /api/open":
      return open(ctx, req, res);
    default:
      throw new LogwardError("LW_NOT_FOUND", `There is no ${route} in the API (docs/UI.md lists it).`);
  }
}
