// The web UI's guards: what a request must pass before it is answered. server.ts applies them
// to every request in this order (docs/UI.md, "Security model"):
//   1. checkHost    the Host is this server's own address (no DNS rebinding)         421
//   2. login        /login?token= with the access token opens a session             303 / 401
//      (then the refusal page's own stylesheet and icon, which need no session)
//   3. NO_SESSION   every other request needs a live session cookie                  401
//   4. checkAction  a POST needs the session's CSRF token and, when the browser sends
//                   one, an Origin of this server; other methods than GET and HEAD   403 / 405
// Each check returns the refusal to answer with, or null to go on.

import type { IncomingMessage, ServerResponse } from "node:http";
import { type Refusal, refuse, SECURITY_HEADERS } from "./http.ts";
import { type Session, type Sessions, sameSecret } from "./sessions.ts";

/** The addresses this server answers at, known once it listens. */
export interface OwnAddress {
  /** "127.0.0.1:PORT" and "localhost:PORT". */
  hosts: ReadonlySet<string>;
  /** The same as "http://…" origins. */
  origins: ReadonlySet<string>;
}

/** A page at another name (DNS rebinding) must not reach this server. */
export function checkHost(req: IncomingMessage, own: OwnAddress): Refusal | null {
  if (own.hosts.has(req.headers.host ?? "")) return null;
  return {
    status: 421,
    code: "LW_UI_HOST",
    message: "This server answers only at 127.0.0.1 or localhost on its own port.",
  };
}

/** GET /login?token=: the access token (compared in constant time) opens a session. */
export function login(url: URL, res: ServerResponse, sessions: Sessions): void {
  const given = url.searchParams.get("token") ?? "";
  if (!sameSecret(given, sessions.token)) {
    refuse(res, url.pathname, {
      status: 401,
      code: "LW_UI_TOKEN",
      message: "This access token is not valid; open the address 'logward serve' printed.",
    });
    return;
  }
  res.writeHead(303, { ...SECURITY_HEADERS, Location: "/", "Set-Cookie": sessions.open() });
  res.end();
}

/** The answer to a request without a live session. */
export const NO_SESSION: Refusal = Object.freeze({
  status: 401,
  code: "LW_UI_TOKEN",
  message:
    "Open the address that 'logward serve' printed (it holds the access token); this browser has no session.",
});

/** An action (POST) needs the session's CSRF token and a same-origin Origin; only GET and HEAD need neither. */
export function checkAction(req: IncomingMessage, session: Session, own: OwnAddress): Refusal | null {
  if (req.method === "POST") {
    const csrf = req.headers["x-csrf-token"];
    const from = req.headers.origin;
    if (
      typeof csrf !== "string" ||
      !sameSecret(csrf, session.csrf) ||
      (from !== undefined && !own.origins.has(from))
    )
      return {
        status: 403,
        code: "LW_UI_CSRF",
        message: "This action needs the page's CSRF token; reload the page and try again.",
      };
    return null;
  }
  if (req.method !== "GET" && req.method !== "HEAD")
    return { status: 405, code: "LW_UI_METHOD", message: "Only GET and POST are used here." };
  return null;
}
