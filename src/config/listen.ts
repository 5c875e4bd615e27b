// The `[[listen]]` tables: network and datagram listeners for syslog (RFC 5424/3164 over UDP,
// TCP with RFC 6587 framing, TLS as RFC 5425), RELP, and the agent protocol over mutual TLS
// (another collector forwarding, `[[output]] type = "logward"`). Read once with the rest of the file,
// every problem one sentence naming the table and key ("listen #2: tls_key ..."); what can
// only be known when `serve` starts (a key file it cannot read, an address in use) is checked
// by the collector, which names the table and key the same way (`listenWhere`).
//
//   [[listen]]
//   protocol = "syslog"           "syslog", "relp" or "agent" (tls with tls_ca only; the
//                                 sender's hello names the stream, so no `stream`)
//   transport = "tls"             "udp", "tcp", "tls" or "unix" (a datagram socket like /dev/log)
//   address = "127.0.0.1:6514"    host:port ("[::1]:6514" for IPv6), or an absolute path for unix
//   tls_cert, tls_key             tls: the server's certificate chain and key (PEM files)
//   tls_ca                        tls: clients must present a certificate signed by this CA
//   origin = "cert"               "cert" (the client certificate's CN), "address" (the peer's
//                                 address), or a fixed origin name
//   stream = "syslog"             the stream the records go to
//   max_connections = 256         connections at once on this listener (tcp, tls)
//   handshake_timeout = "10s"     tls: a handshake not done by then is refused
//   mode = "0666"                 unix: the socket file's permission (like /dev/log's)

import { isValidName } from "../store/names.ts";
import { isTable, tableArray } from "./tables.ts";
import type { ListenConfig, ListenProtocol, ListenTransport } from "./types.ts";
import { parseDuration } from "./units.ts";

/** The keys of a `[[listen]]` table; any other is refused (docs/CONFIG.md lists them). */
export const LISTEN_KEYS: readonly string[] = [
  "protocol",
  "transport",
  "address",
  "tls_cert",
  "tls_key",
  "tls_ca",
  "origin",
  "stream",
  "max_connections",
  "handshake_timeout",
  "mode",
];

const PROTOCOLS: readonly ListenProtocol[] = ["syslog", "relp", "agent"];
const TRANSPORTS: readonly ListenTransport[] = ["udp", "tcp", "tls", "unix"];

export const DEFAULT_LISTEN_STREAM = "syslog";
export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** A unix listener's socket file mode: anyone may write, like /dev/log (the origin is fixed). */
export const DEFAULT_UNIX_MODE = 0o666;

/** How an error names a table: "listen #2" (counted from 1, in file order). */
export function listenWhere(index: number): string {
  return `listen #${index + 1}`;
}

/** "host:port" or "[v6]:port" -> host and port; null when it is neither. */
export function parseHostPort(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/** Reads `[[listen]]` from a parsed TOML document; problems are pushed to `problems`. */
export function parseListen(doc: Record<string, unknown>, problems: string[]): readonly ListenConfig[] {
  const raw = tableArray(doc, "listen", problems);
  if (raw === null) return Object.freeze([]);
  const out: ListenConfig[] = [];
  const seen = new Map<string, number>();
  raw.forEach((t: unknown, i: number) => {
    const where = listenWhere(i);
    if (!isTable(t)) {
      problems.push(`${where} must be a table`);
      return;
    }
    const table = t;
    const before = problems.length;
    const bad = (key: string, want: string) =>
      problems.push(`${where}: ${key} must be ${want}, not ${JSON.stringify(table[key])}`);
    for (const k of Object.keys(table))
      if (!LISTEN_KEYS.includes(k)) problems.push(`${where}: ${k} is not a known setting`);

    const protocol = (table.protocol ?? "syslog") as ListenProtocol;
    if (!PROTOCOLS.includes(protocol)) bad("protocol", '"syslog", "relp" or "agent"');
    const transport = table.transport as ListenTransport;
    if (!TRANSPORTS.includes(transport)) bad("transport", '"udp", "tcp", "tls" or "unix"');
    if (protocol === "relp" && (transport === "udp" || transport === "unix"))
      problems.push(`${where}: transport must be "tcp" or "tls" for protocol = "relp"`);
    // agent: only a collector with a client certificate of tls_ca may forward (its records are
    // stored under the origin the channel names, so the channel must be authenticated)
    const agent = protocol === "agent";
    if (agent && transport !== "tls" && TRANSPORTS.includes(transport))
      problems.push(`${where}: transport must be "tls" for protocol = "agent" (with tls_ca: mutual TLS)`);
    if (agent && transport === "tls" && table.tls_ca === undefined)
      problems.push(
        `${where}: tls_ca is required for protocol = "agent" (only a client certificate of that CA may forward)`,
      );
    if (agent && table.stream !== undefined)
      problems.push(
        `${where}: stream does not apply to protocol = "agent" (the sender's hello names the stream)`,
      );

    const address = table.address;
    let host = "";
    let port = 0;
    if (transport === "unix") {
      if (!isText(address) || !address.startsWith("/")) bad("address", "an absolute path for unix");
    } else if (TRANSPORTS.includes(transport)) {
      const hp = isText(address) ? parseHostPort(address) : null;
      if (!hp) bad("address", 'host:port such as "127.0.0.1:6514" or "[::1]:6514", port 1 to 65535');
      else ({ host, port } = hp);
    }
    if (isText(address)) {
      const key = `${transport === "udp" || transport === "unix" ? transport : "stream"} ${address}`;
      const other = seen.get(key);
      if (other !== undefined)
        problems.push(`${where}: address ${address} is already used by ${listenWhere(other)}`);
      else seen.set(key, i);
    }

    const tls = transport === "tls";
    const files: Record<string, string | null> = {};
    for (const key of ["tls_cert", "tls_key", "tls_ca"]) {
      const v = table[key];
      files[key] = null;
      if (v === undefined) {
        if (tls && key !== "tls_ca") problems.push(`${where}: ${key} is required for transport = "tls"`);
      } else if (!tls) problems.push(`${where}: ${key} applies only to transport = "tls"`);
      else if (!isText(v) || !v.startsWith("/")) bad(key, "an absolute path to a PEM file");
      else files[key] = v;
    }

    const origin = table.origin;
    if (origin === "cert") {
      if (!tls || table.tls_ca === undefined)
        problems.push(
          `${where}: origin = "cert" needs transport = "tls" and tls_ca (only a verified client certificate can name the origin)`,
        );
    } else if (origin === "address") {
      if (agent)
        problems.push(
          `${where}: origin = "address" cannot be used with protocol = "agent"; use "cert" or an origin name`,
        );
      else if (transport === "unix")
        problems.push(
          `${where}: origin = "address" cannot be used with unix (a datagram socket has no peer address); name the origin`,
        );
    } else if (!isText(origin) || !isValidName(origin)) {
      bad("origin", '"cert", "address" or an origin name (1 to 64 letters, digits, _ . -)');
    }

    const stream = table.stream ?? DEFAULT_LISTEN_STREAM;
    if (!isText(stream) || !isValidName(stream))
      bad("stream", "a stream name (1 to 64 letters, digits, _ . -)");

    const maxConnections = table.max_connections ?? DEFAULT_MAX_CONNECTIONS;
    if (
      !Number.isInteger(maxConnections) ||
      (maxConnections as number) < 1 ||
      (maxConnections as number) > 65536
    )
      bad("max_connections", "a whole number from 1 to 65536");
    const handshake =
      table.handshake_timeout === undefined
        ? DEFAULT_HANDSHAKE_TIMEOUT_MS
        : parseDuration(table.handshake_timeout);
    if (handshake === null || handshake < 1000)
      bad("handshake_timeout", 'a duration of at least 1s, such as "10s"');

    let mode = DEFAULT_UNIX_MODE;
    if (table.mode !== undefined) {
      if (transport !== "unix") problems.push(`${where}: mode applies only to transport = "unix"`);
      else if (typeof table.mode === "string" && /^0?[0-7]{3}$/.test(table.mode))
        mode = parseInt(table.mode, 8);
      else bad("mode", 'an octal permission string such as "0666" or "0660"');
    }

    if (problems.length > before) return;
    out.push(
      Object.freeze({
        index: i,
        protocol,
        transport,
        address: address as string,
        host,
        port,
        tlsCert: files.tls_cert!,
        tlsKey: files.tls_key!,
        tlsCa: files.tls_ca!,
        origin: origin as string,
        stream: stream as string,
        maxConnections: maxConnections as number,
        handshakeTimeoutMs: handshake as number,
        mode,
      }),
    );
  });
  return Object.freeze(out);
}
