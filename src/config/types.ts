// The shape of the whole configuration once read: what `logward serve` and the read-only
// commands get from `loadConfig` (load.ts). Types only, so that the defaults, the section
// parsers and their users can all name them without importing each other.

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
  /**
   * Quotas, groups, retention, rate limits (`[[policy]]`, `[groups.*]`), and the collector-wide
   * `alert_command` and `min_free`, which are held here only.
   */
  readonly policy: PolicyConfig;
  /** `logward export --to-vm`: argv with "{vm}" and "{file}" (`[export] copy_command`). */
  readonly exportCopy: readonly string[] | null;
  /** `logward open`: stream type (lines, journal, agent, octets, default, ...) -> argv with "{file}". */
  readonly viewers: Readonly<Record<string, readonly string[]>>;
  /** The web UI's port on 127.0.0.1 (`[ui] port`; 0: any free port); null: no web UI. */
  readonly uiPort: number | null;
  /** A web UI search is stopped after this long (`[ui] search_timeout`): it runs in a worker. */
  readonly uiSearchTimeoutMs: number;
  /** Network and datagram listeners for syslog and RELP (`[[listen]]`, listen.ts). */
  readonly listen: readonly ListenConfig[];
  /** How often `serve` seals every stream that got records (`[seal] interval`, seal.ts). */
  readonly sealIntervalMs: number;
  /** Run after each interval's seals with the checkpoint on stdin (`[seal] checkpoint_command`). */
  readonly sealCheckpointCommand: readonly string[] | null;
  /** Outputs that read the store and send it on (`[[output]]`, output.ts; src/output). */
  readonly outputs: readonly OutputConfig[];
  /** Notify rules (`[[notify]]`, notify.ts; src/output/notify.ts). */
  readonly notify: readonly NotifyConfig[];
}

/** One `[[notify]]` rule, checked (config/notify.ts). */
export interface NotifyConfig {
  /** Unique; names the rule in alerts and its cursors. */
  readonly name: string;
  /** Origin glob, optionally ORIGIN/STREAM ("*" by default). */
  readonly match: string;
  /** A JavaScript regular expression tested on the payload as stored; null: none. */
  readonly pattern: string | null;
  /** A syslog severity range (query/syslog-names.ts); null: none. */
  readonly severity: string | null;
  /** Run by sh with the one-line summary on stdin. */
  readonly command: string;
  /** At most rateCount notifications every ratePeriodMs. */
  readonly rateCount: number;
  readonly ratePeriodMs: number;
}

export type OutputType = "exec" | "logward" | "syslog" | "nats";
export type OutputStart = "oldest" | "newest";

/** One `[[output]]` table, checked (config/output.ts). */
export interface OutputConfig {
  /** Unique; names its durable cursors (<store>/run/outputs/<name>/). */
  readonly name: string;
  readonly type: OutputType;
  /** Origin glob, optionally ORIGIN/STREAM ("*" by default). */
  readonly match: string;
  /** Where a new output starts in a stream it has no cursor for yet. */
  readonly start: OutputStart;
  /** exec (and command-channel types): the command, run by sh; null when the type has none. */
  readonly command: string | null;
  /** The type's own keys as checked by config/output.ts, under their TOML names. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The file the table came from (the main file or an `include` drop-in), for messages. */
  readonly file: string;
}

export type ListenProtocol = "syslog" | "relp" | "agent";
export type ListenTransport = "udp" | "tcp" | "tls" | "unix";

/** One `[[listen]]` table, checked (config/listen.ts). */
export interface ListenConfig {
  /** Its place in the file, from 0: errors name it "listen #<index + 1>". */
  readonly index: number;
  readonly protocol: ListenProtocol;
  readonly transport: ListenTransport;
  /** As written: "host:port", or a path for unix. */
  readonly address: string;
  /** udp, tcp, tls: the address's host and port ("" and 0 for unix). */
  readonly host: string;
  readonly port: number;
  /** tls: PEM files (the CA only when clients must present a certificate); null otherwise. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly tlsCa: string | null;
  /** "cert", "address", or a fixed origin name. */
  readonly origin: string;
  readonly stream: string;
  /** tcp, tls: connections at once on this listener. */
  readonly maxConnections: number;
  /** tls: a handshake not done by then is refused. */
  readonly handshakeTimeoutMs: number;
  /** unix: the socket file's permission bits (0o666 unless `mode` says otherwise). */
  readonly mode: number;
}

export interface LocalSocket {
  readonly path: string;
  readonly origin: string;
  readonly mode: number;
}

export type OnQuota = "drop-oldest" | "refuse";

export interface PolicyRule {
  readonly match: string;
  readonly group: string | null;
  readonly quota: number | null;
  readonly retentionMs: number | null;
  readonly onQuota: OnQuota;
  /** Records per second, or null for no limit. */
  readonly rate: number | null;
}

export interface PolicyConfig {
  readonly rules: readonly PolicyRule[];
  /** What applies to an origin no rule matches. */
  readonly fallback: PolicyRule;
  readonly groups: Readonly<Record<string, { readonly quota: number | null }>>;
  /** argv of the notification command; the alert text is appended as the last argument. */
  readonly alertCommand: readonly string[] | null;
  /** Below this much free space the collector takes nothing new from anyone. */
  readonly minFree: number;
}

/** The `[collector]` keys that the policy holds (`alert_command`, `min_free`). */
export type CollectorWidePolicy = Pick<PolicyConfig, "alertCommand" | "minFree">;
