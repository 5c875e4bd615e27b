// The collector's own records and the store it writes: the store's options from the
// configuration, `_logward/events` (one `!note` per event, key=value text), and the alert when
// an origin reaches its number of streams.

import type { CollectorConfig } from "../config/types.ts";
import type { Alerts } from "../policy/alerts.ts";
import { encodeKeyValues } from "../store/kv.ts";
import type { StoreOptions } from "../store/options.ts";
import type { Store } from "../store/store.ts";
import type { StreamWriter } from "../store/stream-writer.ts";

/** The store as the collector opens it: segment and record sizes, buffers, stream limits. */
export function storeOptions(config: CollectorConfig): Partial<StoreOptions> {
  return {
    maxSegmentBytes: config.segmentBytes,
    maxSegmentAgeMs: config.segmentAgeMs,
    maxRecordBytes: Math.max(config.maxRecordBytes, 64 * 1024),
    highWaterBytes: config.streamBufferBytes,
    // all streams together: 32 of them busy at their full stream_buffer (8 MiB by default).
    // It bounds many busy streams (500 could hold 2 x 500 x stream_buffer, 250 MiB); 2 MiB was measured
    // too, and cost the TCP listener a third of its rate in npm run bench
    totalHighWaterBytes: config.streamBufferBytes * 32,
    hardLimitBytes: Math.max(config.streamBufferBytes * 8, 8 * config.maxRecordBytes),
    maxOpenStreams: config.maxOpenStreams,
    maxStreamsPerOrigin: config.maxStreamsPerOrigin,
  };
}

/** Writes one of the collector's own events (key=value text) to `_logward/events`. */
export function writeEvent(
  events: StreamWriter,
  name: string,
  fields: Record<string, string | number>,
): void {
  const text = encodeKeyValues(Object.entries(fields));
  try {
    events.appendCollector("note", `event=${name}${text ? ` ${text}` : ""}`);
  } catch {
    // the store is closing or failed: there is nowhere left to record it
  }
}

/**
 * A new stream over max_streams_per_origin is refused (LW_STREAM_LIMIT): alert once a minute
 * per origin.
 */
export function alertStreamLimits(store: Store, alerts: Alerts): void {
  const limitAlerted = new Map<string, number>();
  store.on("stream-limit", ({ origin, limit }: { origin: string; limit: number }) => {
    const now = Date.now();
    if (now - (limitAlerted.get(origin) ?? 0) < 60_000) return;
    limitAlerted.set(origin, now);
    alerts.raise({
      kind: "stream-limit",
      origin,
      message: `${origin} has ${limit} streams, its limit ([collector] max_streams_per_origin); sessions that would open another one are refused`,
    });
  });
}
