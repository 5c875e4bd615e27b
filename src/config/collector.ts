// The `[collector]` and `[store]` sections: the collector's listeners, session limits, its own
// records' bounds, the disk reserve and alert command (held in the policy), and how the store
// cuts segments. Each key's rule says how it is read and what the error says it must be.

import { isValidName } from "../store/names.ts";
import { type Rule, wholeNumber, within } from "./rule.ts";
import type { LocalSocket } from "./types.ts";
import { parseDuration, parseSize } from "./units.ts";

export const COLLECTOR_KEYS: Record<string, Rule> = {
  socket: { key: "socket", parse: (v) => (typeof v === "string" && v.length > 0 ? v : null), want: "a path" },
  qrexec_sockets: {
    key: "qrexecSockets",
    parse: (v) =>
      Array.isArray(v) && v.every((p) => typeof p === "string" && p.startsWith("/"))
        ? Object.freeze([...v])
        : null,
    want: "a list of absolute paths",
  },
  local: {
    key: "localSockets",
    parse: (v) => {
      if (!Array.isArray(v)) return null;
      const out: LocalSocket[] = [];
      for (const t of v) {
        if (typeof t !== "object" || t === null) return null;
        const { path, origin, mode, ...rest } = t as Record<string, unknown>;
        if (Object.keys(rest).length > 0 || typeof path !== "string" || !path.startsWith("/")) return null;
        if (typeof origin !== "string" || !isValidName(origin)) return null;
        const m =
          mode === undefined
            ? 0o660
            : typeof mode === "string" && /^0?[0-7]{3}$/.test(mode)
              ? parseInt(mode, 8)
              : -1;
        if (m < 0) return null;
        out.push(Object.freeze({ path, origin, mode: m }));
      }
      return Object.freeze(out);
    },
    want: 'a list of tables { path = "/absolute/path", origin = "name", mode = "0660" (optional) }',
  },
  alert_command: {
    key: "alertCommand",
    parse: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === "string" && a.length > 0)
        ? Object.freeze([...v])
        : null,
    want: 'a command as a list, such as ["notify-send", "logward"]',
  },
  min_free: { key: "minFree", parse: parseSize, want: 'a size such as "2GiB"' },
  max_sessions: {
    key: "maxSessions",
    parse: within(wholeNumber, 1, 65536),
    want: "a whole number from 1 to 65536",
  },
  max_sessions_per_origin: {
    key: "maxSessionsPerOrigin",
    parse: within(wholeNumber, 1, 65536),
    want: "a whole number from 1 to 65536",
  },
  own_quota: {
    key: "ownQuotaBytes",
    parse: within(parseSize, 64 * 1024),
    want: 'a size of at least 64KiB, such as "64MiB"',
  },
  own_retention: {
    key: "ownRetentionMs",
    parse: within(parseDuration, 3600_000),
    want: 'a duration of at least 1h, such as "90d"',
  },
  deletions_warn: {
    key: "deletionsWarnBytes",
    parse: within(parseSize, 64 * 1024),
    want: 'a size of at least 64KiB, such as "256MiB"',
  },
  max_streams_per_origin: {
    key: "maxStreamsPerOrigin",
    parse: within(wholeNumber, 1, 1_000_000),
    want: "a whole number from 1 to 1000000",
  },
  max_record: {
    key: "maxRecordBytes",
    parse: within(parseSize, 256, 1024 * 1024),
    want: 'a size from 256B to 1MiB, such as "64KiB"',
  },
  header_timeout: { key: "headerTimeoutMs", parse: parseDuration, want: 'a duration such as "10s"' },
  first_byte_timeout: { key: "firstByteTimeoutMs", parse: parseDuration, want: 'a duration such as "10s"' },
  idle_timeout: { key: "idleTimeoutMs", parse: parseDuration, want: 'a duration such as "1d"' },
  stream_buffer: {
    key: "streamBufferBytes",
    parse: within(parseSize, 64 * 1024, 256 * 1024 * 1024),
    want: "a size from 64KiB to 256MiB",
  },
};

export const STORE_KEYS: Record<string, Rule> = {
  segment_size: {
    key: "segmentBytes",
    parse: within(parseSize, 64 * 1024),
    want: 'a size of at least 64KiB, such as "64MiB"',
  },
  segment_age: { key: "segmentAgeMs", parse: parseDuration, want: 'a duration such as "1d"' },
  max_open_streams: {
    key: "maxOpenStreams",
    parse: within(wholeNumber, 1, 1_000_000),
    want: "a whole number from 1 to 1000000 (well below the collector's ulimit -n)",
  },
  max_blob: {
    key: "maxBlobBytes",
    parse: within(parseSize, 1, 64 * 1024 ** 3),
    want: 'a size from 1B to 64GiB, such as "1GiB"',
  },
};
