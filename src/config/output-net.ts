// The keys of the network output types, `syslog` (RFC 5425) and `nats` (JetStream), read for
// config/output.ts (its TYPE_KEYS and TYPE_CHECKS name these). Each check returns the options
// under their TOML names, with defaults filled in; a problem is one "KEY must be ..." sentence.
//
//   type = "syslog"                    type = "nats"
//   address = "siem.example:6514"      servers = "nats://127.0.0.1:4222" (or a list of URLs)
//   tls_ca = "/etc/…/ca.pem"           jetstream_stream = "LOGWARD"
//   tls_cert, tls_key (both or none)   duplicate_window = "2m"   (when logward creates it)
//   server_name = "siem.example"       tls_ca, tls_cert, tls_key (optional, as for syslog)
//                                      nats_creds = "/etc/logward/nats.creds"  (JWT + nkey seed)
//                                      or nats_user + nats_password, or nats_token

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
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
  "nats_creds",
  "nats_user",
  "nats_password",
  "nats_token",
];

/** Keys whose values are secrets: a problem names them, never their value. */
export const SECRET_OUTPUT_KEYS: readonly string[] = ["nats_user", "nats_password", "nats_token"];

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

/** A .creds file is a JWT and an nkey seed: a few KiB; a bigger file is not one. */
const CREDS_MAX_BYTES = 64 * 1024;

/**
 * Why a .creds file cannot be used, or null: it must be readable now (serve refuses to start or
 * reload otherwise) and hold a user JWT and an nkey seed. Its content is never put in a message.
 */
export function credsProblem(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`;
  }
  try {
    if (!fstatSync(fd).isFile()) return "is not a file";
    const buf = Buffer.alloc(CREDS_MAX_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > CREDS_MAX_BYTES) return `is over ${CREDS_MAX_BYTES / 1024} KiB, not a .creds file`;
    const text = buf.toString("latin1", 0, n);
    if (!/-{3,}BEGIN NATS USER JWT-{3,}/.test(text) || !/-{3,}BEGIN USER NKEY SEED-{3,}/.test(text))
      return "is not a NATS .creds file (a user JWT and an nkey seed)";
    return null;
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`;
  } finally {
    closeSync(fd);
  }
}

/** How the output authenticates: a .creds file, a user and password, a token, or none. */
function natsAuth(table: Table, bad: Bad): Record<string, string | null> {
  const out = { nats_creds: null, nats_user: null, nats_password: null, nats_token: null } as Record<
    string,
    string | null
  >;
  const given = ["nats_creds", "nats_user", "nats_token"].filter((k) => table[k] !== undefined);
  if (given.length > 1) bad(given[1]!, `left out when ${given[0]} is set (one way to authenticate)`);
  const creds = table.nats_creds;
  if (creds !== undefined) {
    if (!isText(creds) || !creds.startsWith("/")) bad("nats_creds", "an absolute path to a NATS .creds file");
    else {
      const why = credsProblem(creds);
      if (why) bad("nats_creds", `a readable NATS .creds file (it ${why})`);
      else out.nats_creds = creds;
    }
  }
  if ((table.nats_user === undefined) !== (table.nats_password === undefined))
    bad(
      table.nats_user === undefined ? "nats_user" : "nats_password",
      "set together with the other of nats_user and nats_password",
    );
  // the value of a secret never goes into a message: "must be ..." names only the key
  const secret = (key: string) => {
    const v = table[key];
    if (v === undefined) return;
    if (typeof v !== "string" || v.length === 0 || v.length > 4096 || /[\r\n\0]/.test(v))
      bad(key, "a string of 1 to 4096 characters on one line");
    else out[key] = v;
  };
  secret("nats_user");
  secret("nats_password");
  secret("nats_token");
  return out;
}

/** `type = "nats"`: the servers, the JetStream stream, the TLS files and the credentials. */
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
  return {
    servers,
    jetstream_stream: stream,
    duplicate_window_ms: windowMs,
    ...tlsFiles(table, bad),
    ...natsAuth(table, bad),
  };
}
