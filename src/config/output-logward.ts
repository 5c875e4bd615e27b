// The keys of `type = "logward"` outputs (forwarding to another logward collector, exactly
// once: src/output/logward.ts), read for config/output.ts (its TYPE_KEYS and TYPE_CHECKS name
// these). The check returns the options under their TOML names, defaults filled in.
//
//   type = "logward"
//   command = 'qrexec-client-vm central "logward.Agent+$LOGWARD_STREAM"'   (run by sh, once
//             per forwarded stream, with the agent protocol on its stdin and stdout), or
//   address = "central.example:6515"   a receiver's [[listen]] protocol = "agent", over mutual
//             TLS: tls_cert, tls_key (this collector's client certificate), tls_ca (the CA
//             the receiver's certificate must be signed by) all required; server_name: the
//             name that certificate must carry (default: the host of address)
//   sessions = 4        forwarded streams with an open session at once (1 to 16)

import { parseHostPort } from "./listen.ts";

export const LOGWARD_OUTPUT_KEYS: readonly string[] = [
  "command",
  "sessions",
  "address",
  "server_name",
  "tls_ca",
  "tls_cert",
  "tls_key",
];

export const DEFAULT_LOGWARD_SESSIONS = 4;
/** The receiving collector allows 16 sessions per origin by default (max_sessions_per_origin). */
const MAX_LOGWARD_SESSIONS = 16;

const isText = (v: unknown): v is string => typeof v === "string" && v.trim().length > 0;

export function checkLogwardOutput(
  table: Readonly<Record<string, unknown>>,
  bad: (key: string, want: string) => void,
): Record<string, unknown> {
  const sessions = table.sessions ?? DEFAULT_LOGWARD_SESSIONS;
  if (!Number.isInteger(sessions) || (sessions as number) < 1 || (sessions as number) > MAX_LOGWARD_SESSIONS)
    bad("sessions", `a whole number from 1 to ${MAX_LOGWARD_SESSIONS}`);
  const tlsKeys = ["server_name", "tls_ca", "tls_cert", "tls_key"];
  if (table.address === undefined) {
    if (!isText(table.command))
      bad(
        "command",
        'a command line for sh, or address for TLS (one of them is required for type = "logward")',
      );
    for (const key of tlsKeys)
      if (table[key] !== undefined) bad(key, "left out without address (it applies to TLS, not to command)");
    return { sessions };
  }
  if (table.command !== undefined)
    bad("command", "left out when address is set (one channel: command or TLS)");
  const hp = isText(table.address) ? parseHostPort(table.address) : null;
  if (!hp)
    bad("address", 'host:port such as "central.example:6515", a receiver\'s [[listen]] protocol = "agent"');
  const files: Record<string, string | null> = {};
  for (const key of ["tls_cert", "tls_key", "tls_ca"]) {
    const v = table[key];
    files[key] = isText(v) && v.startsWith("/") ? v : null;
    if (files[key] === null) bad(key, "an absolute path to a PEM file (required with address: mutual TLS)");
  }
  const serverName = table.server_name ?? null;
  if (serverName !== null && !isText(serverName))
    bad("server_name", "the host name the receiver's certificate names");
  return {
    sessions,
    address: table.address,
    host: hp?.host,
    port: hp?.port,
    server_name: serverName,
    ...files,
  };
}
