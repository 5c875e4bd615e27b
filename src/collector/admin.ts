// Deleting records (`logward rm`), done by the one writer of the store: the running collector
// (asked over its relay socket with an admin header: the protocol is wire/admin.ts), or `rm`
// itself holding the store's lock when no collector runs. Every deletion is recorded in the
// collector's own origin (`_logward/deletions`), which `rm` cannot delete, so the trail of
// deletions stays.
//
// --before T removes whole segments whose newest record is older than T (a segment also
// holding newer records stays whole); without it the whole stream goes.

import { LogwardError } from "../errors.ts";
import type { Policy } from "../policy/engine.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { type ObjectInfo, objectFields } from "../store/objects.ts";
import { originStreams } from "../store/read.ts";
import { formatTime, parseTime } from "../store/record.ts";
import { segmentFields } from "../store/segment.ts";
import type { Store } from "../store/store.ts";
import type { RmRequest, RmResult } from "../wire/admin.ts";

/**
 * Deletes what `req` names and records it. `busy(origin, stream)` says whether a session is
 * writing the stream right now: a whole stream is not deleted under a live session.
 */
export async function removeRecords(
  store: Store,
  policy: Pick<Policy, "track" | "forget"> | null,
  req: RmRequest,
  busy: (origin: string, stream: string) => boolean,
): Promise<RmResult> {
  if (req.origin === COLLECTOR_ORIGIN) {
    throw new LogwardError(
      "LW_USAGE",
      `The collector's own origin ${COLLECTOR_ORIGIN} keeps the trail of deletions and cannot be deleted.`,
    );
  }
  const streams = (await originStreams(store.root, req.origin))
    .filter((r) => req.stream === null || r.stream === req.stream)
    .map((r) => r.stream);
  if (streams.length === 0) {
    const what = req.stream === null ? `origin '${req.origin}'` : `stream '${req.origin}/${req.stream}'`;
    throw new LogwardError(
      "LW_NOT_FOUND",
      `There is no ${what} in the store ${store.root}; 'logward ls' lists what there is.`,
    );
  }
  if (req.beforeUs === null) {
    const live = streams.filter((s) => busy(req.origin, s));
    if (live.length > 0) {
      throw new LogwardError(
        "LW_BUSY",
        `${req.origin}/${live[0]} is receiving records right now; delete it once its sender has stopped, or use --before.`,
      );
    }
  }
  let records = 0;
  let bytes = 0;
  let objects = 0;
  const trail = await store.stream(COLLECTOR_ORIGIN, "deletions");
  for (const stream of streams) {
    let r = 0;
    let b = 0;
    /** Objects removed with the segments whose `!blob` records announced them. */
    const gone: ObjectInfo[] = [];
    if (req.beforeUs === null) {
      const w = await store.stream(req.origin, stream);
      policy?.forget(w);
      // the stream's directory goes whole, objects/ with it
      if (w.objects) gone.push(...w.objects.list());
      ({ records: r, bytes: b } = await store.removeStream(req.origin, stream));
    } else {
      const w = await store.stream(req.origin, stream);
      policy?.track(w);
      while (w.sealed[0] && parseTime(w.sealed[0].lastTime) < req.beforeUs) {
        const m = await w.removeOldestSealed();
        if (!m) break;
        r += m.records;
        b += m.bytes;
        w.appendCollector("evict", `reason=deleted by=${req.by} ${segmentFields(m)}`);
        // an object lives as long as its `!blob` record (removeOldest fsyncs objects/)
        for (let o = w.objects?.oldest(); o && o.seq <= m.lastSeq; o = w.objects?.oldest()) {
          const info = await w.objects!.removeOldest();
          if (!info) break;
          gone.push(info);
          b += info.stored;
          w.appendCollector("evict", `reason=deleted by=${req.by} ${objectFields(info)}`);
        }
      }
    }
    records += r;
    bytes += b;
    objects += gone.length;
    const objectBytes = gone.reduce((n, o) => n + o.stored, 0);
    trail.together(() => {
      trail.appendCollector(
        "note",
        `deleted=${req.origin}/${stream} records=${r} bytes=${b} ` +
          `${gone.length > 0 ? `objects=${gone.length} object_bytes=${objectBytes} ` : ""}before=${req.beforeUs === null ? "all" : formatTime(req.beforeUs)} by=${req.by}`,
      );
      // every object by name, so the trail says which contents went
      for (const o of gone)
        trail.appendCollector(
          "note",
          `deleted_object=${req.origin}/${stream} ${objectFields(o)} by=${req.by}`,
        );
    });
  }
  await store.flush();
  return {
    ok: true,
    records,
    bytes,
    objects,
    message: `deleted ${records} records${objects ? ` and ${objects} objects` : ""} (${bytes} bytes) of ${req.origin}${req.stream ? `/${req.stream}` : ""}`,
  };
}
