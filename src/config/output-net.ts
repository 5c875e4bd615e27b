// The keys of the network output types, `syslog` (RFC 5425) and `nats` (JetStream), read for
// config/output.ts (its TYPE_KEYS and TYPE_CHECKS name these). Each check returns the options
// under their TOML names, with defaults filled in; a problem is one "KEY must be ..." sentence.
//
//   type = "syslog"                    type = "nats"
//   address = "siem.example:6514"      servers = "nats://127.0.0.1:4222" (or a list of URLs)
//   tls_ca = "/etc/…/ca.pem"           jetstream_stream = "LOGWARD"
//   tls_cert, tls_key (both or none)   duplicate_window = "2m"   (when logward creates it)
//   server_name = "siem.example"       tls_ca, tls_cert, tls_key (optional, as for syslog)

import { parseHostPort } from "./listen.ts";
import { parseDuration } from "./units.ts";

export const SYSLOG_OUTPUT_KEYS: readonly string[] = [
  "address",
  "tls_ca",
  "tls_cert",
  "tls_key",
  "server_name",
];
export const NATS_OUTPUT_KEYS: readonly string[] = [
  "servers",
  "jetstream_stream",
  "duplicate_window",
  "tls_ca",
  "tls_cert",
  "tls_key",
];

export const DEFAULT_NATS_SERVER = "nats://127.0.0.1:4222";
export const DEFAULT_JETSTREAM_STREAM = "LOGWARD";
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

type Table = Readonly<Record<string, unknown>>;
type Bad = (key: string, want: string) => void;

const isText = (v: unknown): v is string => typeof v === "string" && v.trim().length > 0;

/** tls_ca, tls_cert, tls_key: absolute paths; cert and key together or neither. */
function tlsFiles(
  table: Table,
  bad: Bad,
): { tls_ca: string | null; tls_cert: string | null; tls_key: string | null } {
  const out: Record<string, string | null> = {};
  for (const key of ["tls_ca", "tls_cert", "tls_key"]) {
    const v = table[key];
    out[key] = null;
    if (v === undefined) continue;
    if (!isText(v) || !v.startsWith("/")) bad(key, "an absolute path to a PEM file");
    else out[key] = v;
  }
  if ((table.tls_cert === undefined) !== (table.tls_key === undefined))
    bad(
      table.tls_cert === undefined ? "tls_cert" : "tls_key",
      "set together with the other of tls_cert and tls_key",
    );
  return { tls_ca: out.tls_ca ?? null, tls_cert: out.tls_cert ?? null, tls_key: out.tls_key ?? null };
}

/** `type = "syslog"`: where to connect, and the TLS files. */
export function checkSyslogOutput(table: Table, bad: Bad): Record<string, unknown> {
  const hp = isText(table.address) ? parseHostPort(table.address) : null;
  if (!hp) bad("address", 'host:port such as "siem.example:6514" (required for type = "syslog")');
  const serverName = table.server_name ?? null;
  if (serverName !== null && !isText(serverName))
    bad("server_name", "the host name the server's certificate names");
  return {
    address: table.address,
    host: hp?.host,
    port: hp?.port,
    server_name: serverName,
    ...tlsFiles(table, bad),
  };
}

/** JetStream stream names: no spaces, dots, wildcards or path separators. */
const STREAM_NAME_RE = /^[A-Za-z0-9_-]{1,255}$/;
const NATS_URL_RE = /^(?:(?:nats|tls):\/\/)?[^\s/]+:\d{1,5}$/;

/** `type = "nats"`: the servers, the JetStream stream and the TLS files. */
export function checkNatsOutput(table: Table, bad: Bad): Record<string, unknown> {
  const raw = table.servers ?? DEFAULT_NATS_SERVER;
  const servers = typeof raw === "string" ? [raw] : raw;
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    !servers.every((s) => isText(s) && NATS_URL_RE.test(s))
  )
    bad("servers", 'a NATS URL such as "nats://127.0.0.1:4222", or a list of them');
  const stream = table.jetstream_stream ?? DEFAULT_JETSTREAM_STREAM;
  if (!isText(stream) || !STREAM_NAME_RE.test(stream))
    bad("jetstream_stream", "a JetStream stream name (letters, digits, _ and -)");
  const windowRaw = table.duplicate_window;
  const windowMs = windowRaw === undefined ? DEFAULT_DUPLICATE_WINDOW_MS : parseDuration(windowRaw);
  if (windowMs === null || windowMs <= 0) bad("duplicate_window", 'a duration such as "2m"');
  return { servers, jetstream_stream: stream, duplicate_window_ms: windowMs, ...tlsFiles(table, bad) };
}
