// The web UI's search, run in a worker thread (api-search.ts starts one per search): a regular
// expression from the page may backtrack for minutes on a hostile line, and on the collector's
// event loop that would stop every ingest. Here it only blocks this thread, which api-search.ts
// terminates when the search's time budget ([ui] search_timeout) is spent.
//
// workerData: SearchJob. Posts one SearchResult, or { error: { code, message } }.

import { parentPort, workerData } from "node:worker_threads";
import { LogwardError } from "../errors.ts";
import { displayPayload } from "../query/emit.ts";
import { compileMatcher, searchRecords } from "../query/search.ts";
import { matchingStreams, streamMatcher } from "../query/select.ts";
import { compileSyslogFilter, type FieldSpec, recordFields, syslogJson } from "../query/syslog-filter.ts";
import { recordJson } from "../query/target.ts";
import { collectDamage, damagedSentence } from "../store/damage.ts";
import type { Window } from "../store/read.ts";

export interface SearchJob {
  root: string;
  pattern: string;
  regex: boolean;
  ignoreCase: boolean;
  origin: string | null;
  stream: string | null;
  window: Window;
  limit: number;
  /** Syslog field filters (api-search.ts checked them); hits then carry a `syslog` object. */
  fields: FieldSpec[];
}

/**
 * The bytes of hits (their JSON) one search may hold: 1000 hits of 1 MiB records, escaped,
 * would be gigabytes in this thread and again in the answer. A hit that would pass the budget
 * ends the search as truncated (the first hit is always kept: one record is bounded by max_record).
 */
export const MAX_HIT_BYTES = 16 * 1024 * 1024;

export interface SearchResult {
  truncated: boolean;
  /** Each hit as the JSON of a record. */
  hits: string[];
  /** One sentence per damaged range skipped (a frame of a compressed segment that cannot be read). */
  damaged: string[];
}

async function run(job: SearchJob): Promise<SearchResult> {
  const fields = compileSyslogFilter(job.fields);
  const matcher = compileMatcher(job.pattern, { regex: job.regex, ignoreCase: job.ignoreCase, fields });
  const refs = await matchingStreams(job.root, streamMatcher({ origin: job.origin, stream: job.stream }, ""));
  const hits: string[] = [];
  let bytes = 0;
  const { value: truncated, damaged } = await collectDamage(async () => {
    for await (const { v, p } of searchRecords(job.root, refs, job.window, matcher)) {
      if (hits.length === job.limit) return true;
      const extra = fields ? { syslog: syslogJson(recordFields(v.block, p)) } : undefined;
      const hit = recordJson(v, p, displayPayload(v.block, p).text, extra);
      bytes += hit.length;
      if (bytes > MAX_HIT_BYTES && hits.length > 0) return true;
      hits.push(hit);
    }
    return false;
  });
  return { truncated, hits, damaged: damaged.map(damagedSentence) };
}

// only as a worker (a test imports MAX_HIT_BYTES from the main thread)
if (parentPort)
  void run(workerData as SearchJob).then(
    (result) => parentPort!.postMessage(result),
    (err: unknown) =>
      parentPort!.postMessage({
        error:
          err instanceof LogwardError
            ? { code: err.code, message: err.message }
            : { code: "LW_INTERNAL", message: String((err as Error)?.stack ?? err) },
      }),
  );
