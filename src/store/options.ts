// Store settings: the defaults in one object, validated once when a store opens, then frozen.

import { LogwardError } from "../errors.ts";

export interface StoreOptions {
  /** A segment is sealed once it holds this many bytes (it never exceeds it unless one record does). */
  readonly maxSegmentBytes: number;
  /** A segment is sealed once its first record is this old, even if the stream is idle. */
  readonly maxSegmentAgeMs: number;
  /** The largest payload one record may have; the collector truncates before this. */
  readonly maxRecordBytes: number;
  /** Unwritten bytes of one stream above which the writer asks its caller to wait. */
  readonly highWaterBytes: number;
  /**
   * Unwritten bytes of all streams together above which every stream with unwritten bytes
   * reports `backlogged` too: many busy streams share this, where one busy stream may use its
   * whole `highWaterBytes` (which is what makes one fast sender fast).
   */
  readonly totalHighWaterBytes: number;
  /** Unwritten bytes of one stream above which an append is refused (a caller ignored backpressure). */
  readonly hardLimitBytes: number;
  /** Compress sealed segments with zstd in the background. */
  readonly compress: boolean;
  /** zstd level for sealed segments. */
  readonly compressLevel: number;
  /** Uncompressed bytes per independent zstd frame, so readers can seek in sealed segments. */
  readonly frameBytes: number;
  /**
   * Active segment files kept open at most; the least recently written idle streams are closed
   * (and opened again when written). Keep it well below the process's file limit (ulimit -n).
   */
  readonly maxOpenStreams: number;
  /**
   * Streams one origin may have (the collector's `max_streams_per_origin`): creating one more is
   * refused with LW_STREAM_LIMIT. Streams already on disk always open. The collector's own
   * origin has no limit.
   */
  readonly maxStreamsPerOrigin: number;
  /**
   * Keep each stream's seal chain (the SHA-256 of what was written since its last `!seal`), so
   * that `appendSeal` can seal it: set when the store has a sealing key (docs/SEALS.md).
   */
  readonly seal: boolean;
}

export const STORE_DEFAULTS: StoreOptions = Object.freeze({
  maxSegmentBytes: 64 * 1024 * 1024,
  maxSegmentAgeMs: 24 * 60 * 60 * 1000,
  maxRecordBytes: 1024 * 1024,
  highWaterBytes: 8 * 1024 * 1024,
  totalHighWaterBytes: 64 * 1024 * 1024,
  hardLimitBytes: 64 * 1024 * 1024,
  compress: true,
  compressLevel: 3,
  frameBytes: 1024 * 1024,
  maxOpenStreams: 256,
  // a qube has a handful of streams (journal, a few files, blobs); 256 leaves room for any real
  // sender while bounding one origin to 256 directories (2 MiB of their overhead)
  maxStreamsPerOrigin: 256,
  seal: false,
});

const BOUNDS: Record<keyof StoreOptions, [number, number] | "boolean"> = {
  maxSegmentBytes: [4096, 2 ** 40],
  maxSegmentAgeMs: [1000, 10 * 365 * 86400_000],
  maxRecordBytes: [64, 64 * 1024 * 1024],
  highWaterBytes: [4096, 2 ** 32],
  totalHighWaterBytes: [4096, 2 ** 36],
  hardLimitBytes: [4096, 2 ** 33],
  compress: "boolean",
  compressLevel: [1, 19],
  frameBytes: [4096, 256 * 1024 * 1024],
  maxOpenStreams: [1, 1_000_000],
  maxStreamsPerOrigin: [1, 1_000_000],
  seal: "boolean",
};

export function resolveStoreOptions(given: Partial<StoreOptions> = {}): StoreOptions {
  const merged: Record<string, unknown> = { ...STORE_DEFAULTS };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    const bound = BOUNDS[key as keyof StoreOptions];
    if (bound === undefined) problems.push(`unknown store option '${key}'`);
    else if (bound === "boolean" ? typeof value !== "boolean" : !Number.isInteger(value))
      problems.push(
        `store option '${key}' must be ${bound === "boolean" ? "true or false" : "a whole number"}`,
      );
    else if (bound !== "boolean" && ((value as number) < bound[0] || (value as number) > bound[1]))
      problems.push(`store option '${key}' must be between ${bound[0]} and ${bound[1]}`);
    else merged[key] = value;
  }
  const opts = merged as unknown as StoreOptions;
  if (opts.hardLimitBytes < opts.highWaterBytes)
    problems.push("hardLimitBytes must be at least highWaterBytes");
  if (problems.length > 0)
    throw new LogwardError("LW_USAGE", `Invalid store settings: ${problems.join("; ")}.`);
  return Object.freeze(opts);
}
