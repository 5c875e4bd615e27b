// The collector's configuration: defaults in one object, an optional TOML file on top, every
// problem listed at once (file, key, what is wrong), then frozen. Unknown keys are errors, so
// a typo is never silently ignored.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { LogwardError } from "../errors.ts";
import { DEFAULT_MIN_FREE, defaultPolicy, type PolicyConfig, parsePolicy } from "../policy/config.ts";
import { parseDuration, parseSize } from "../policy/units.ts";
import { isValidName } from "../store/names.ts";
import { STORE_DEFAULTS } from "../store/options.ts";

export interface CollectorConfig {
  /** The relay socket `logward ingest` connects to. */
  readonly socket: string;
  /** qrexec socket-service paths to listen on (e.g. /etc/qubes-rpc/logward.Lines). */
  readonly qrexecSockets: readonly string[];
  /** Local sockets whose origin the admin names (`logward ship --connect unix:PATH`). */
  readonly localSockets: readonly LocalSocket[];
  readonly maxSessions: number;
  /** Streams one origin may have; a session that would create one more is refused. */
  readonly maxStreamsPerOrigin: number;
  /** Active segment files kept open at most (`[store] max_open_streams`). */
  readonly maxOpenStreams: number;
  /** Sessions of one origin at once, idle or not (`max_sessions_per_origin`). */
  readonly maxSessionsPerOrigin: number;
  /** Largest record kept whole; longer ones are cut and marked. */
  readonly maxRecordBytes: number;
  /** A connection that has not sent its header or descriptor by then is closed. */
  readonly headerTimeoutMs: number;
  /** A session that has sent nothing at all by then is closed. */
  readonly firstByteTimeoutMs: number;
  /** A session silent for this long is closed (log streams may be quiet for a while). */
  readonly idleTimeoutMs: number;
  /** Unwritten bytes per stream before the collector stops reading that stream's sessions. */
  readonly streamBufferBytes: number;
  readonly segmentBytes: number;
  readonly segmentAgeMs: number;
  /** The largest object one `blob` call may send (`[store] max_blob`). */
  readonly maxBlobBytes: number;
  /** `_logward/events` and `_logward/alerts`: bytes on disk each (`own_quota`), oldest removed first. */
  readonly ownQuotaBytes: number;
  /** `_logward/events` and `_logward/alerts`: records older than this are removed (`own_retention`). */
  readonly ownRetentionMs: number;
  /** `_logward/deletions` is never trimmed; past this size an alert says so (`deletions_warn`). */
  readonly deletionsWarnBytes: number;
  /** argv run for each alert, the text appended (`[collector] alert_command`). */
  readonly alertCommand: readonly string[] | null;
  readonly minFree: number;
  /** Quotas, groups, retention, rate limits (`[[policy]]`, `[groups.*]`). */
  readonly policy: PolicyConfig;
  /** `logward export --to-vm`: argv with "{vm}" and "{file}" (`[export] copy_command`). */
  readonly exportCopy: readonly string[] | null;
  /** `logward open`: stream type (lines, journal, agent, octets, default, ...) -> argv with "{file}". */
  readonly viewers: Readonly<Record<string, readonly string[]>>;
  /** The web UI's port on 127.0.0.1 (`[ui] port`; 0: any free port); null: no web UI. */
  readonly uiPort: number | null;
  /** A web UI search is stopped after this long (`[ui] search_timeout`): it runs in a worker. */
  readonly uiSearchTimeoutMs: number;
}

export interface LocalSocket {
  readonly path: string;
  readonly origin: string;
  readonly mode: number;
}

export const DEFAULT_UI_PORT = 8640;

export function defaultConfig(store: string): CollectorConfig {
  return Object.freeze({
    socket: join(store, "run", "ingest.sock"),
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
    alertCommand: null,
    minFree: DEFAULT_MIN_FREE,
    policy: defaultPolicy(),
    viewers: Object.freeze({}),
    exportCopy: null,
    uiPort: DEFAULT_UI_PORT,
    uiSearchTimeoutMs: 10_000,
  });
}

export { parseDuration, parseSize } from "../policy/units.ts";

type Rule = { key: keyof CollectorConfig; parse: (v: unknown) => unknown; want: string };

/** `parse`, then only a value from `min` to `max` (a size, a duration, a whole number). */
function within(parse: (v: unknown) => number | null, min: number, max = Number.POSITIVE_INFINITY) {
  return (v: unknown): number | null => {
    const n = parse(v);
    return n !== null && n >= min && n <= max ? n : null;
  };
}

const wholeNumber = (v: unknown): number | null => (Number.isInteger(v) ? (v as number) : null);

const COLLECTOR_KEYS: Record<string, Rule> = {
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

const EXPORT_KEYS: Record<string, Rule> = {
  copy_command: {
    key: "exportCopy",
    parse: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((a) => typeof a === "string" && a.length > 0) &&
      v.some((a) => a.includes("{file}"))
        ? Object.freeze([...v])
        : null,
    want: 'a command as a list with "{file}" (and "{vm}") in it, such as ["qvm-copy-to-vm", "{vm}", "{file}"]',
  },
};

/** `[ui]`: port and enabled set uiPort, so they are read together (enabled = false wins). */
function parseUi(
  raw: unknown,
  problems: string[],
  current: number | null,
  setSearchTimeout: (ms: number) => void,
): number | null {
  if (raw === undefined) return current;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push("[ui] must be a table");
    return current;
  }
  let port = current ?? DEFAULT_UI_PORT;
  let enabled = true;
  for (const [k, v] of Object.entries(raw)) {
    if (k === "port") {
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535) port = v as number;
      else
        problems.push(
          `ui.port must be a port number from 0 (any free port) to 65535, not ${JSON.stringify(v)}`,
        );
    } else if (k === "enabled") {
      if (typeof v === "boolean") enabled = v;
      else problems.push(`ui.enabled must be true or false, not ${JSON.stringify(v)}`);
    } else if (k === "search_timeout") {
      const ms = parseDuration(v);
      if (ms !== null && ms >= 1000 && ms <= 3600_000) setSearchTimeout(ms);
      else
        problems.push(
          `ui.search_timeout must be a duration from "1s" to "1h", such as "10s", not ${JSON.stringify(v)}`,
        );
    } else problems.push(`ui.${k} is not a known setting`);
  }
  return enabled ? port : null;
}

const STORE_KEYS: Record<string, Rule> = {
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

const TYPE_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/** `[viewers]`: type = ["command", "arg", "{file}"], the file's path replacing "{file}". */
function parseViewers(raw: unknown, problems: string[]): Readonly<Record<string, readonly string[]>> {
  if (raw === undefined) return Object.freeze({});
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push("[viewers] must be a table");
    return Object.freeze({});
  }
  const out: Record<string, readonly string[]> = {};
  for (const [type, v] of Object.entries(raw)) {
    const ok =
      TYPE_RE.test(type) &&
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((a) => typeof a === "string" && a.length > 0) &&
      v.some((a) => (a as string).includes("{file}"));
    if (!ok)
      problems.push(
        `viewers.${type} must be a command as a list with "{file}" in it, such as ["qvm-open-in-dvm", "{file}"]`,
      );
    else out[type] = Object.freeze([...(v as string[])]);
  }
  return Object.freeze(out);
}

/** Where the packaged configuration lives; commands that read it use it when it exists. */
export const DEFAULT_CONFIG_FILE = "/etc/logward/logward.toml";

/** `--config FILE` if given, else the packaged configuration if it exists, else none. */
export function configFileOrDefault(given: string | undefined): string | undefined {
  return given ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
}

/** Loads `file` (if given) over the defaults. Throws one LogwardError listing every problem. */
export function loadConfig(store: string, file?: string): CollectorConfig {
  const config: Record<string, unknown> = { ...defaultConfig(store) };
  if (!file) return Object.freeze(config) as unknown as CollectorConfig;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "it does not exist" : e.message.split("\n")[0];
    throw new LogwardError("LW_CONFIG", `The configuration ${file} cannot be read: ${why}.`);
  }
  const problems: string[] = [];
  const section = (name: string, rules: Record<string, Rule>) => {
    const table = doc[name];
    if (table === undefined) return;
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      problems.push(`[${name}] must be a table`);
      return;
    }
    for (const [k, v] of Object.entries(table)) {
      const rule = Object.hasOwn(rules, k) ? rules[k] : undefined;
      if (!rule) {
        problems.push(`${name}.${k} is not a known setting`);
        continue;
      }
      const parsed = rule.parse(v);
      if (parsed === null) problems.push(`${name}.${k} must be ${rule.want}, not ${JSON.stringify(v)}`);
      else config[rule.key] = parsed;
    }
  };
  for (const key of Object.keys(doc)) {
    if (!["collector", "store", "policy", "groups", "viewers", "export", "ui"].includes(key))
      problems.push(
        `[${key}] is not a known section (expected [collector], [store], [[policy]], [groups.NAME], [viewers], [export] or [ui])`,
      );
  }
  section("collector", COLLECTOR_KEYS);
  section("export", EXPORT_KEYS);
  section("store", STORE_KEYS);
  config.viewers = parseViewers(doc.viewers, problems);
  config.uiPort = parseUi(doc.ui, problems, config.uiPort as number | null, (ms) => {
    config.uiSearchTimeoutMs = ms;
  });
  config.policy = parsePolicy(
    doc,
    { alertCommand: config.alertCommand as readonly string[] | null, minFree: config.minFree as number },
    problems,
  );
  if (problems.length > 0) {
    throw new LogwardError(
      "LW_CONFIG",
      `The configuration ${file} has ${problems.length} problem(s): ${problems.join("; ")}.`,
    );
  }
  return Object.freeze(config) as unknown as CollectorConfig;
}
