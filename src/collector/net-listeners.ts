// The `[[listen]]` TCP and TLS listeners: each connection, once its origin is known from the
// channel (peer-origin.ts: the client certificate's CN, the peer address, or a fixed name),
// becomes an ordinary Session through the collector's `open`, with the syslog framer (RFC 6587)
// as its intake; so backpressure, quotas, rate limits, `!open`/`!close` and durability are
// those of every other session. What is refused before that (a listener over max_connections,
// a failed or timed-out handshake, a CN that is no origin name) goes to `refused`, which the
// collector counts through repeats.ts, so a flood of refusals cannot fill the disk.
// `protocol = "agent"` (mutual TLS only, a collector forwarding) reads the agent hello first
// (agent-hello.ts): it names the stream, and the session is an agent session as on qrexec.
//
// UDP and unix datagram listeners are in datagram-listener.ts.

import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import { listenWhere } from "../config/listen.ts";
import type { ListenConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import { readHello } from "./agent-hello.ts";
import type { Intake, IntakeHost } from "./intake.ts";
import { addressOrigin, certOrigin } from "./peer-origin.ts";
import { relpIntakeFor } from "./relp-tail.ts";
import { readTlsFiles, tlsServerOptions } from "./tls.ts";

/** Who is calling on a `[[listen]]` connection, and how its bytes become records. */
export interface NetCaller {
  origin: string;
  stream: string;
  transport: "tcp" | "tls";
  /** The intake for protocols other than syslog (RELP); undefined: the syslog framer. */
  intake: ((host: IntakeHost) => Intake) | undefined;
  /** "agent" for protocol = "agent"; undefined: syslog, or the intake's (RELP). */
  format?: "agent";
}

/** What the listeners ask of the collector. */
export interface NetHost {
  /** Makes the (paused) connection a session; it resumes the socket. */
  open(socket: Socket, caller: NetCaller, listener: ListenConfig): void;
  /** A connection turned away before it was a session (counted, logged once a minute). */
  refused(listener: ListenConfig, kind: string, peer: string, origin: string | null, reason: string): void;
  readonly stopping: boolean;
  /** The store's directory (RELP reads its stream's last records there). */
  readonly storeRoot: string;
}

/** A started TCP or TLS listener. */
export interface NetListener {
  readonly config: ListenConfig;
  readonly server: Server;
  /** TLS: reads the certificate, key and CA again (SIGHUP); throws and keeps the old ones. */
  reload(): void;
}

/** The intake of a listener's protocol (syslog: the session's own framer; relp: relp-intake.ts). */
function intakeOf(l: ListenConfig, storeRoot: string): NetCaller["intake"] {
  return l.protocol === "relp" ? relpIntakeFor(storeRoot) : undefined;
}

/** The origin of a connection on `l`, or why it has none. */
function originOf(l: ListenConfig, socket: Socket): { origin: string } | { why: string } {
  if (l.origin === "cert") return certOrigin((socket as TLSSocket).getPeerCertificate());
  if (l.origin === "address") {
    const origin = addressOrigin(socket.remoteAddress);
    return origin ? { origin } : { why: "the peer has no address" };
  }
  return { origin: l.origin };
}

/** How a refused handshake is named in events: short, stable kinds, one per cause. */
function handshakeKind(err: NodeJS.ErrnoException): string {
  if (err.code === "ERR_TLS_HANDSHAKE_TIMEOUT") return "tls-timeout";
  const m = err.message;
  if (/peer did not return a certificate|certificate required/i.test(m)) return "tls-no-cert";
  if (/certificate|unknown ca|verify/i.test(m)) return "tls-bad-cert";
  return "tls-handshake";
}

/** Listens as `l` says; an address in use or an unreadable key file is an error naming them. */
export async function startNetListener(l: ListenConfig, host: NetHost): Promise<NetListener> {
  const intake = intakeOf(l, host.storeRoot);
  const tls = l.transport === "tls";
  let open = 0;
  const admit = (socket: Socket): boolean => {
    const peer = socket.remoteAddress ?? "-";
    if (host.stopping) {
      socket.destroy();
      return false;
    }
    if (open >= l.maxConnections) {
      host.refused(l, "too-many-connections", peer, null, `over max_connections (${l.maxConnections})`);
      socket.destroy();
      return false;
    }
    open++;
    socket.once("close", () => open--);
    return true;
  };
  const begin = (socket: Socket) => {
    const who = originOf(l, socket);
    if ("why" in who) {
      host.refused(l, "bad-origin", socket.remoteAddress ?? "-", null, who.why);
      socket.destroy();
      return;
    }
    const transport = l.transport as "tcp" | "tls";
    if (l.protocol === "agent") {
      readHello(
        socket,
        l.handshakeTimeoutMs,
        ({ stream, first }) => {
          // the hello goes back in front of what follows: the session's agent intake reads it
          socket.unshift(first);
          host.open(socket, { origin: who.origin, stream, transport, intake, format: "agent" }, l);
        },
        (why) => {
          host.refused(l, "bad-hello", socket.remoteAddress ?? "-", who.origin, why);
          socket.destroy();
        },
      );
      return;
    }
    socket.pause();
    host.open(socket, { origin: who.origin, stream: l.stream, transport, intake }, l);
  };
  let server: Server;
  let reload = () => {};
  if (tls) {
    const peers = new WeakMap<Socket, string>();
    const s: TlsServer = createTlsServer(tlsServerOptions(l, readTlsFiles(l)));
    // the raw connection, before its handshake: counted against max_connections
    s.on("connection", (raw: Socket) => {
      if (!admit(raw)) return;
      peers.set(raw, raw.remoteAddress ?? "-");
      // an error before the handshake ends (a reset) has nothing to report but must not throw
      raw.on("error", () => {});
    });
    s.on("secureConnection", (socket: TLSSocket) => {
      socket.disableRenegotiation();
      begin(socket);
    });
    s.on("tlsClientError", (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      // a failed handshake's socket is gone, and its address with it: the raw one kept it
      const raw = (socket as unknown as { _parent?: Socket })._parent;
      const peer = (raw && peers.get(raw)) ?? socket.remoteAddress ?? "-";
      // Node checks the client certificate once the handshake is over and, when it fails,
      // closes the connection: the reason is in authorizationError, the error is a hang-up
      const verify = socket.authorizationError;
      if (verify)
        host.refused(l, "tls-bad-cert", peer, null, `TLS client certificate refused: ${String(verify)}`);
      else host.refused(l, handshakeKind(err), peer, null, `TLS handshake failed: ${err.message.trim()}`);
      socket.destroy();
    });
    reload = () => s.setSecureContext(tlsServerOptions(l, readTlsFiles(l)));
    server = s;
  } else {
    server = createTcpServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      if (admit(socket)) begin(socket);
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new LogwardError(
          "LW_LISTEN",
          `${listenWhere(l.index)}: address ${l.address} cannot be listened on (${err.code === "EADDRINUSE" ? "it is in use" : err.message}).`,
        ),
      ),
    );
    server.listen({ host: l.host, port: l.port }, () => resolve());
  });
  return { config: l, server, reload };
}
