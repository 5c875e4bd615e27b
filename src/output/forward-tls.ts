// The TLS channel of a `logward` output with `address` (forward-session.ts sends one agent
// session over it): a TLS connection to a receiving collector's `[[listen]] protocol = "agent"`,
// with this collector's client certificate, the agent protocol bare on it (as on a qrexec
// socket service). The receiver is verified against `tls_ca` only (never the system's CAs), and
// its certificate must name `server_name`, else the host of `address` (an IP address must be in
// the certificate's IP SANs): a certificate of another CA, or for another name, is refused here
// with a sentence that says which, and the output's last error (`logward ls`) shows it.

import { isIP } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { type Channel, channelOver } from "../agent/channel.ts";
import { type CollectorReply, ReplyDecoder } from "../wire/agent.ts";

/** Where to connect and as whom. */
export interface TlsTarget {
  /** As written, for messages: "host:port". */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly serverName: string | null;
  /** PEM contents of tls_cert, tls_key, tls_ca. */
  readonly files: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer };
}

const CONNECT_TIMEOUT_MS = 10_000;
/** A receiver that took the connection but never answers the hello is not a logward agent listener. */
const WELCOME_TIMEOUT_MS = 30_000;
const KEEPALIVE_MS = 30_000;

/** OpenSSL's verification codes that mean "the receiver's certificate is not trusted". */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "INVALID_PURPOSE",
]);

/** One sentence for why the connection could not be made or was lost. */
export function tlsFailure(t: TlsTarget, err: NodeJS.ErrnoException, handshakeDone: boolean): string {
  const code = err.code ?? "";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return `${t.address}: the receiver's certificate does not name ${t.serverName ?? t.host} (${err.message.trim()}); set server_name to the name it carries, or give it a certificate for this name.`;
  if (UNTRUSTED.has(code))
    return `${t.address}: the receiver's certificate is refused (${code}: ${err.message.trim()}); it must be signed by tls_ca.`;
  if (
    /alert (unknown ca|bad certificate|certificate required|certificate unknown|handshake failure)/i.test(
      err.message,
    )
  )
    return `${t.address}: the receiver refused this collector's client certificate (${err.message.trim()}); it must be signed by the receiver's tls_ca.`;
  if (!handshakeDone)
    return `${t.address}: cannot connect (${code ? `${code}: ` : ""}${err.message.trim()}).`;
  return `${t.address}: the connection was lost (${err.message.trim()}).`;
}

/** Why a connection the receiver closed ended. */
function closedWhy(t: TlsTarget, beforeWelcome: boolean): string {
  // TLS 1.3: the receiver checks the client certificate after the handshake is done on this
  // side, and closes without a word when it refuses it (or the CN as an origin, or the session)
  if (beforeWelcome)
    return `${t.address}: the receiver closed the connection before its welcome: it refused this collector's client certificate (not signed by its tls_ca), the certificate's CN as an origin name, or the session (its _logward/events says which).`;
  return `${t.address}: the receiver closed the connection.`;
}

export function tlsChannel(t: TlsTarget, onReply: (r: CollectorReply) => void): Channel {
  let answered = false;
  const decoder = new ReplyDecoder((r) => {
    answered = true;
    onReply(r);
  });
  let handshakeDone = false;
  const socket: TLSSocket = connect({
    host: t.host,
    port: t.port,
    // the name checked is servername when set, else the host: SNI cannot be an IP address, so
    // for one the check is against the certificate's IP SANs
    ...(t.serverName || !isIP(t.host) ? { servername: t.serverName ?? t.host } : {}),
    cert: t.files.cert,
    key: t.files.key,
    ca: t.files.ca,
    minVersion: "TLSv1.2" as const,
    rejectUnauthorized: true,
  });
  let why: string | null = null;
  const fail = (message: string) => {
    why ??= message;
    socket.destroy();
  };
  const connectTimer = setTimeout(
    () => fail(`${t.address}: no TLS handshake within ${CONNECT_TIMEOUT_MS / 1000} s.`),
    CONNECT_TIMEOUT_MS,
  );
  let welcomeTimer: NodeJS.Timeout | undefined;
  socket.once("secureConnect", () => {
    handshakeDone = true;
    clearTimeout(connectTimer);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    welcomeTimer = setTimeout(() => {
      if (!answered)
        fail(
          `${t.address}: no welcome within ${WELCOME_TIMEOUT_MS / 1000} s; is it a [[listen]] protocol = "agent"?`,
        );
    }, WELCOME_TIMEOUT_MS);
  });
  const closed = new Promise<string>((resolve) => {
    socket.on("error", (err: NodeJS.ErrnoException) => fail(tlsFailure(t, err, handshakeDone)));
    socket.once("close", () => {
      clearTimeout(connectTimer);
      clearTimeout(welcomeTimer);
      resolve(why ?? closedWhy(t, handshakeDone && !answered));
    });
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      fail(`${t.address}: the receiver's answer is not the agent protocol (${(err as Error).message}).`);
    }
  });
  return channelOver(socket, closed, () => socket.destroy());
}
