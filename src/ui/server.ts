// The web UI's HTTP server, run inside `logward serve`: static files (src/ui/static) and the
// JSON API (api.ts). It shows attacker-controlled text, so everything here assumes the page
// may be attacked through its content and through other sites in the same browser:
//   - it listens on 127.0.0.1 only, and answers only requests whose Host is that address (or
//     localhost) and port, so a DNS-rebinding page cannot reach it by name;
//   - a random access token (in the URL `serve` prints) opens a session kept in an HttpOnly,
//     SameSite=Strict cookie; without it every request is refused;
//   - actions (POST) also need the session's CSRF token in a header, and a same-origin Origin;
//   - every response carries a strict Content-Security-Policy (no inline script, no eval),
//     nosniff, no framing, no referrer and no caching.

import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { join } from "node:path";
import { type ErrorCode, LogwardError } from "../errors.ts";
import { handleApi } from "./api.ts";
import { newApiContext, type UiHooks } from "./context.ts";
import { SECURITY_HEADERS, send, sendJson } from "./http.ts";

export interface UiServer {
  /** The address to open, with the access token. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const COOKIE = "logward_session";
const MAX_SESSIONS = 64;
const SESSION_TTL_MS = 12 * 3600_000;
/**
 * Connections held at once. Every local client, the person's browser too, comes from
 * 127.0.0.1, so a per-address cap cannot tell them apart: when the cap is reached a new
 * connection takes the place of the oldest one with no request in progress, one that never
 * showed a session first. A flood of idle or half-sent connections thus only ever evicts
 * itself, never a request being answered.
 */
const MAX_CONNECTIONS = 128;
/** The whole request head (and body) must arrive within these; then the socket is closed. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this. */
const KEEP_ALIVE_MS = 5_000;

interface Conn {
  socket: Socket;
  /** A request is being read or answered on it. */
  busy: boolean;
  /** It carried a valid session cookie once. */
  authed: boolean;
}

/** Admits every connection, evicting the least valuable idle one when MAX_CONNECTIONS are open. */
function guardConnections(server: Server): { mark(req: IncomingMessage, authed: boolean): void } {
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

/** The HTTP status of an error the API throws; any other code is the request's fault (400). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  LW_INTERNAL: 500,
  LW_NOT_FOUND: 404,
  LW_BUSY: 409,
  LW_SEARCH_TIMEOUT: 503,
};

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};

function loadStatic(): Map<string, { body: Buffer; type: string }> {
  const dir = join(import.meta.dirname, "static");
  return new Map(
    Object.entries(STATIC).map(([path, f]) => [
      path,
      { body: readFileSync(join(dir, f.file)), type: f.type },
    ]),
  );
}

function sameSecret(a: string, b: string): boolean {
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

/** A refusal: JSON for the API, a short page otherwise (the page says what to do). */
function refuse(res: ServerResponse, path: string, status: number, code: string, message: string): void {
  if (path.startsWith("/api/")) sendJson(res, status, { error: { code, message } });
  else
    send(
      res,
      status,
      "text/html; charset=utf-8",
      `<!doctype html><meta charset="utf-8"><title>logward</title><link rel="stylesheet" href="/style.css"><main class="refused"><h1>logward</h1><p>${message}</p></main>`,
    );
}

/** Starts the UI on 127.0.0.1:port (0: any free port). Rejects with LW_UI_PORT when it cannot listen. */
export async function startUi(hooks: UiHooks, port: number): Promise<UiServer> {
  const files = loadStatic();
  const token = randomBytes(24).toString("base64url");
  // session id -> its CSRF token and when it expires
  const sessions = new Map<string, { csrf: string; expires: number }>();
  let hosts: Set<string> = new Set();
  let origins: Set<string> = new Set();
  const ctx = newApiContext(hooks);
  let guard: { mark(req: IncomingMessage, authed: boolean): void } | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (!hosts.has(req.headers.host ?? "")) {
      refuse(
        res,
        path,
        421,
        "LW_UI_HOST",
        "This server answers only at 127.0.0.1 or localhost on its own port.",
      );
      return;
    }
    if (path === "/login") {
      const given = url.searchParams.get("token") ?? "";
      if (!sameSecret(given, token)) {
        refuse(
          res,
          path,
          401,
          "LW_UI_TOKEN",
          "This access token is not valid; open the address 'logward serve' printed.",
        );
        return;
      }
      const id = randomBytes(24).toString("base64url");
      const now = Date.now();
      for (const [k, v] of sessions) if (v.expires < now) sessions.delete(k);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      sessions.set(id, { csrf: randomBytes(24).toString("base64url"), expires: now + SESSION_TTL_MS });
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        Location: "/",
        "Set-Cookie": `${COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL_MS / 1000}`,
      });
      res.end();
      return;
    }
    if ((path === "/style.css" || path === "/favicon.svg") && req.method === "GET") {
      const f = files.get(path)!;
      send(res, 200, f.type, f.body); // needed by the refusal page itself; holds nothing secret
      return;
    }
    const id = cookieValue(req, COOKIE);
    const session = id ? sessions.get(id) : undefined;
    if (!session || session.expires < Date.now()) {
      refuse(
        res,
        path,
        401,
        "LW_UI_TOKEN",
        "Open the address that 'logward serve' printed (it holds the access token); this browser has no session.",
      );
      return;
    }
    guard?.mark(req, true);
    if (req.method === "POST") {
      const csrf = req.headers["x-csrf-token"];
      const from = req.headers.origin;
      if (
        typeof csrf !== "string" ||
        !sameSecret(csrf, session.csrf) ||
        (from !== undefined && !origins.has(from))
      ) {
        refuse(
          res,
          path,
          403,
          "LW_UI_CSRF",
          "This action needs the page's CSRF token; reload the page and try again.",
        );
        return;
      }
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      refuse(res, path, 405, "LW_UI_METHOD", "Only GET and POST are used here.");
      return;
    }
    if (path.startsWith("/api/")) {
      if (path === "/api/session") {
        sendJson(res, 200, { csrf: session.csrf, store: hooks.root });
        return;
      }
      await handleApi(ctx, req, res, url);
      return;
    }
    const f = files.get(path);
    if (!f || req.method === "POST") {
      refuse(res, path, 404, "LW_NOT_FOUND", "There is no such page here.");
      return;
    }
    send(res, 200, f.type, f.body);
  };

  // the timeouts are checked every second (Node's default is every 30 s)
  const server: Server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err as LogwardError;
      const code = e instanceof LogwardError ? e.code : "LW_INTERNAL";
      const status = STATUS[code] ?? 400;
      if (!res.headersSent) sendJson(res, status, { error: { code, message: e.message } });
      else res.destroy();
    });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS; // receiving the request; a live tail's answer is not bound
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.maxHeadersCount = 50;
  guard = guardConnections(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new LogwardError(
          "LW_UI_PORT",
          `The web UI cannot listen on 127.0.0.1:${port} (${err.code ?? err.message}); set another [ui] port, or [ui] enabled = false.`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  hosts = new Set([`127.0.0.1:${actual}`, `localhost:${actual}`]);
  origins = new Set([...hosts].map((h) => `http://${h}`));
  return {
    url: `http://127.0.0.1:${actual}/login?token=${token}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
