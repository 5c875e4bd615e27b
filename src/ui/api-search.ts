// The web UI API's search (`logward search`): each one runs in its own worker thread
// (search-worker.ts), stopped after [ui] search_timeout or when the page goes away, so a
// catastrophic regular expression never stops the collector's event loop.

import type { ServerResponse } from "node:http";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type ErrorCode, LogwardError } from "../errors.ts";
import { compileMatcher } from "../query/search.ts";
import { streamMatcher } from "../query/select.ts";
import { compileSyslogFilter, type FieldSpec, fieldSpec } from "../query/syslog-filter.ts";
import type { ApiContext } from "./context.ts";
import { sendJsonText } from "./http.ts";
import { intParam, type Params, windowParams } from "./params.ts";
import type { SearchJob, SearchResult } from "./search-worker.ts";

const MAX_HITS = 1000;
/** Field filters one search may give (`field`, `severity`, `app` together). */
const MAX_FIELDS = 16;
/** Searches running at once, each in its own worker thread (the machine may have 2 cores). */
const MAX_SEARCHES = 2;
/**
 * A search worker's heap: the hits (MAX_HIT_BYTES, as UTF-16 strings twice that) and the blocks
 * being read fit well in it; past it V8 stops the worker (ERR_WORKER_OUT_OF_MEMORY), not the
 * collector, whose own heap the worker does not share.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 };
const WORKER = new URL(`./search-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * GET /api/search?q[&regex][&ignore_case][&origin][&stream][&since][&until][&limit]
 * [&severity=RANGE][&app=VALUE][&field=KEY=VALUE…]: in a worker thread, stopped after [ui]
 * search_timeout (LW_SEARCH_TIMEOUT) or when the page goes away, so a catastrophic regular
 * expression never stops the collector's event loop. The syslog filters are the CLI's
 * (`search --severity`, `--field app=`, `--field`); with one, q may be empty.
 */
export async function search(ctx: ApiContext, p: Params, res: ServerResponse): Promise<void> {
  const job: SearchJob = {
    root: ctx.hooks.root,
    pattern: p.get("q") ?? "",
    regex: p.get("regex") === "1",
    ignoreCase: p.get("ignore_case") === "1",
    origin: p.get("origin") || null,
    stream: p.get("stream") || null,
    window: windowParams(p),
    limit: intParam(p, "limit", 200, 1, MAX_HITS),
    fields: fieldParams(p),
  };
  // a wrong parameter is answered here, without a worker
  const fields = compileSyslogFilter(job.fields);
  compileMatcher(job.pattern, { regex: job.regex, ignoreCase: job.ignoreCase, fields });
  streamMatcher({ origin: job.origin, stream: job.stream }, "");
  if (ctx.running.searches >= MAX_SEARCHES)
    throw new LogwardError(
      "LW_BUSY",
      `${MAX_SEARCHES} searches are running already; try again when one ends.`,
    );
  ctx.running.searches++;
  try {
    const out = await inWorker(job, ctx.hooks.searchTimeoutMs, res);
    if (out)
      sendJsonText(
        res,
        `{"truncated":${out.truncated},"damaged":${JSON.stringify(out.damaged)},"hits":[${out.hits.join(",")}]}`,
      );
  } finally {
    ctx.running.searches--;
  }
}

/** The syslog field filters of the request: `severity`, `app` and each `field` (KEY=VALUE). */
function fieldParams(p: Params): FieldSpec[] {
  const specs: FieldSpec[] = [];
  const severity = p.get("severity");
  if (severity) specs.push({ option: "severity", key: "severity", value: severity });
  const app = p.get("app");
  if (app) specs.push({ option: "app", key: "app", value: app });
  for (const f of p.getAll("field")) if (f !== "") specs.push(fieldSpec("field", f));
  if (specs.length > MAX_FIELDS)
    throw new LogwardError("LW_USAGE", `A search takes at most ${MAX_FIELDS} field filters.`);
  return specs;
}

/** Runs `job` in a worker; null when the page went away first. */
function inWorker(job: SearchJob, budgetMs: number, res: ServerResponse): Promise<SearchResult | null> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: job, resourceLimits: WORKER_LIMITS });
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
    worker.once("error", (err: NodeJS.ErrnoException) =>
      finish(() =>
        reject(
          err.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new LogwardError(
                "LW_SEARCH_TOO_LARGE",
                `The search needed more than the ${WORKER_LIMITS.maxOldGenerationSizeMb} MiB a search may use and was stopped; narrow it (an origin, a time window, a lower limit).`,
              )
            : err,
        ),
      ),
    );
    worker.once("exit", (code) =>
      finish(() => reject(new Error(`the search worker ended (exit ${code}) without an answer`))),
    );
  });
}
