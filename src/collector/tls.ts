// The TLS side of a `[[listen]] transport = "tls"` listener: its certificate, key and client CA
// read from their files (at start, and again on SIGHUP: `setSecureContext`, so a renewed
// certificate needs no restart and open connections keep theirs), and the server options that
// hold for every connection: TLS 1.2 at least (1.3 is preferred by OpenSSL's order), a client
// certificate signed by `tls_ca` required when one is set, no renegotiation (OpenSSL's
// SSL_OP_NO_RENEGOTIATION, and disableRenegotiation() on each socket), a handshake timeout.

import { constants } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions, type TlsOptions } from "node:tls";
import { listenWhere } from "../config/listen.ts";
import type { ListenConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";

/** Reads one PEM file of the listener; an unreadable file is a sentence naming table and key. */
function pem(l: ListenConfig, key: "tls_cert" | "tls_key" | "tls_ca", path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new LogwardError(
      "LW_LISTEN",
      `${listenWhere(l.index)}: ${key} ${path} cannot be read (${e.code ?? e.message}).`,
    );
  }
}

/**
 * The certificate, key and CA of `l`, read now and checked by building a context from them:
 * a key that does not match its certificate, or a file that is no PEM, is refused here.
 */
export function readTlsFiles(l: ListenConfig): SecureContextOptions {
  const files: SecureContextOptions = {
    cert: pem(l, "tls_cert", l.tlsCert!),
    key: pem(l, "tls_key", l.tlsKey!),
    ...(l.tlsCa ? { ca: pem(l, "tls_ca", l.tlsCa) } : {}),
  };
  try {
    createSecureContext({ ...files, minVersion: "TLSv1.2" });
  } catch (err) {
    throw new LogwardError(
      "LW_LISTEN",
      `${listenWhere(l.index)}: tls_cert ${l.tlsCert}, tls_key ${l.tlsKey}${l.tlsCa ? ` and tls_ca ${l.tlsCa}` : ""} are not a usable certificate, key and CA (${(err as Error).message}).`,
    );
  }
  return files;
}

/** The options of a listener's TLS server (files from readTlsFiles). */
export function tlsServerOptions(l: ListenConfig, files: SecureContextOptions): TlsOptions {
  const mutual = l.tlsCa !== null;
  return {
    ...files,
    minVersion: "TLSv1.2",
    requestCert: mutual,
    rejectUnauthorized: mutual,
    handshakeTimeout: l.handshakeTimeoutMs,
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    allowHalfOpen: true,
  };
}
