// The web UI's connection cap. Every local client, the person's browser too, comes from
// 127.0.0.1, so a per-address cap cannot tell them apart; instead, once MAX_CONNECTIONS are
// open, a new connection takes the place of the one least worth keeping (docs/UI.md).

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * Connections held at once. When the cap is reached a new connection takes the place of the
 * oldest one with no request in progress, one that never showed a session first. A flood of
 * idle or half-sent connections thus only ever evicts itself, never a request being answered.
 */
const MAX_CONNECTIONS = 128;

interface Conn {
  socket: Socket;
  /** A request is being read or answered on it. */
  busy: boolean;
  /** It carried a valid session cookie once. */
  authed: boolean;
}

export interface ConnectionGuard {
  /** Notes that `req` carried a valid session, so its connection is kept over strangers. */
  mark(req: IncomingMessage, authed: boolean): void;
}

/** Admits every connection, evicting the least valuable idle one when MAX_CONNECTIONS are open. */
export function guardConnections(server: Server): ConnectionGuard {
  const conns = new Map<Socket, Conn>(); // in arrival order
  server.on("connection", (socket: Socket) => {
    if (conns.size >= MAX_CONNECTIONS) {
      let victim: Conn | undefined;
      for (const c of conns.values()) {
        if (c.busy) continue;
        if (!c.authed) {
          victim = c;
          break;
        }
        victim ??= c;
      }
      if (!victim) {
        socket.destroy(); // every one is answering a request
        return;
      }
      conns.delete(victim.socket);
      victim.socket.destroy();
    }
    conns.set(socket, { socket, busy: false, authed: false });
    socket.once("close", () => conns.delete(socket));
  });
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const c = conns.get(req.socket);
    if (!c) return;
    c.busy = true;
    res.once("close", () => {
      c.busy = false;
    });
  });
  return {
    mark(req, authed) {
      const c = conns.get(req.socket);
      if (c && authed) c.authed = true;
    },
  };
}
