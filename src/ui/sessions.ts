// The web UI's access token and sessions. The token (in the URL `serve` prints) is new at every
// start and only ever opens a session; the session lives in an HttpOnly, SameSite=Strict
// cookie and carries the CSRF token the page must send with every action.

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

const COOKIE = "logward_session";
const MAX_SESSIONS = 64;
const SESSION_TTL_MS = 12 * 3600_000;

export interface Session {
  /** What the page must send in X-CSRF-Token with every action. */
  csrf: string;
  /** When it ends (ms since the epoch). */
  expires: number;
}

export interface Sessions {
  /** The access token `/login?token=` must carry. */
  readonly token: string;
  /** Starts a session (dropping expired ones, and the oldest past MAX_SESSIONS): its Set-Cookie. */
  open(): string;
  /** The unexpired session the request's cookie names, if any. */
  of(req: IncomingMessage): Session | undefined;
}

export function newSessions(): Sessions {
  const token = randomBytes(24).toString("base64url");
  // session id -> its CSRF token and when it expires
  const sessions = new Map<string, Session>();
  return {
    token,
    open() {
      const id = randomBytes(24).toString("base64url");
      const now = Date.now();
      for (const [k, v] of sessions) if (v.expires < now) sessions.delete(k);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      sessions.set(id, { csrf: randomBytes(24).toString("base64url"), expires: now + SESSION_TTL_MS });
      return `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`;
    },
    of(req) {
      const id = cookieValue(req, COOKIE);
      const session = id ? sessions.get(id) : undefined;
      return !session || session.expires < Date.now() ? undefined : session;
    },
  };
}

/** Compares two secrets in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
