// Every default of the configuration, in one place: what `logward serve` runs with when a key
// (or the whole file) is absent. docs/CONFIG.md states the same values for the user.

import { ingestSocketPath } from "../store/layout.ts";
import { STORE_DEFAULTS } from "../store/options.ts";
import { DEFAULT_SEAL_INTERVAL_MS } from "./seal.ts";
import type { CollectorConfig, PolicyConfig, PolicyRule } from "./types.ts";

/** Where the packaged configuration lives; commands that read it use it when it exists. */
export const DEFAULT_CONFIG_FILE = "/etc/logward/logward.toml";

export const DEFAULT_UI_PORT = 8640;

/** The disk reserve (`[collector] min_free`). */
export const DEFAULT_MIN_FREE = 100 * 1024 ** 2;

/** The defaults: 1 GiB per origin, oldest dropped first, no retention, no rate limit. */
export const DEFAULT_RULE: PolicyRule = Object.freeze({
  match: "*",
  group: null,
  quota: 1024 ** 3,
  retentionMs: null,
  onQuota: "drop-oldest",
  rate: null,
});

/** No `[[policy]]` and no `[groups.*]`: every origin gets DEFAULT_RULE. */
export function defaultPolicy(): PolicyConfig {
  return Object.freeze({
    rules: Object.freeze([]),
    fallback: DEFAULT_RULE,
    groups: Object.freeze({}),
    alertCommand: null,
    minFree: DEFAULT_MIN_FREE,
  });
}

export function defaultConfig(store: string): CollectorConfig {
  return Object.freeze({
    socket: ingestSocketPath(store),
    qrexecSockets: Object.freeze([]),
    localSockets: Object.freeze([]),
    maxSessions: 1024,
    maxStreamsPerOrigin: STORE_DEFAULTS.maxStreamsPerOrigin,
    maxOpenStreams: STORE_DEFAULTS.maxOpenStreams,
    // a VM has a few streams (ship, journal, blob calls, ad-hoc lines): 16 is room for all of
    // them, and it takes 64 origins to fill the 1024 sessions
    maxSessionsPerOrigin: 16,
    maxRecordBytes: 64 * 1024,
    headerTimeoutMs: 10_000,
    // every sender with a protocol sends at once (agent hello, journal "?resume", blob data);
    // a lines pipeline (tail -F, journalctl -f) prints its last lines at once too
    firstByteTimeoutMs: 10_000,
    idleTimeoutMs: 24 * 3600_000,
    streamBufferBytes: 256 * 1024,
    segmentBytes: 64 * 1024 * 1024,
    segmentAgeMs: 24 * 3600_000,
    maxBlobBytes: 1024 * 1024 * 1024,
    ownQuotaBytes: 64 * 1024 * 1024,
    ownRetentionMs: 90 * 86400_000,
    deletionsWarnBytes: 256 * 1024 * 1024,
    policy: defaultPolicy(),
    viewers: Object.freeze({}),
    exportCopy: null,
    uiPort: DEFAULT_UI_PORT,
    uiSearchTimeoutMs: 10_000,
    listen: Object.freeze([]),
    sealIntervalMs: DEFAULT_SEAL_INTERVAL_MS,
    sealCheckpointCommand: null,
    outputs: Object.freeze([]),
    notify: Object.freeze([]),
  });
}
