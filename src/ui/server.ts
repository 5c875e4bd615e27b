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
// The checks are the guards of guards.ts (sessions in sessions.ts), applied in one order below;
// connections.ts caps the connections and the timeouts here bound how long each may take.

import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { join } from "node:path";
import { type ErrorCode, LogwardError } from "../errors.ts";
import { handleApi } from "./api.ts";
import { type ConnectionGuard, guardConnections } from "./connections.ts";
import { newApiContext, type UiHooks } from "./context.ts";
import { checkAction, checkHost, login, NO_SESSION, type OwnAddress } from "./guards.ts";
import { refuse, send, sendJson } from "./http.ts";
import { newSessions } from "./sessions.ts";

// node:http through the CommonJS loader, not an ES import: Node's ES facade of node:http reads
// every export, which loads undici's fetch, http2 and assert with it (alone in a process: +7.2
// MiB of heap and +10 MiB of the binary's pages, against +0.7 and +2.6 this way; in an idle
// serve, which loads much of that anyway, about 1 MiB of each). test/serve-footprint.test.ts.
const { createServer } = process.getBuiltinModule("node:http");

export interface UiServer {
  /** The address to open, with the access token. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The whole request head (and body) must arrive within these; then the socket is closed. */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this. */
const KEEP_ALIVE_MS = 5_000;

/** The HTTP status of an error the API throws; any other code is the request's fault (400). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  LW_INTERNAL: 500,
  LW_NOT_FOUND: 404,
  LW_BUSY: 409,
  LW_SEARCH_TIMEOUT: 503,
  LW_SEARCH_TOO_LARGE: 503,
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

/** Starts the UI on 127.0.0.1:port (0: any free port). Rejects with LW_UI_PORT when it cannot listen. */
export async function startUi(hooks: UiHooks, port: number): Promise<UiServer> {
  const files = loadStatic();
  const sessions = newSessions();
  const own: OwnAddress = { hosts: new Set(), origins: new Set() };
  const ctx = newApiContext(hooks);
  let conns: ConnectionGuard | undefined;

  // the guards (guards.ts) in their order, then the API or a static file
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const wrongHost = checkHost(req, own);
    if (wrongHost) return refuse(res, path, wrongHost);
    if (path === "/login") return login(url, res, sessions);
    if ((path === "/style.css" || path === "/favicon.svg") && req.method === "GET") {
      const f = files.get(path)!;
      return send(res, 200, f.type, f.body); // needed by the refusal page itself; holds nothing secret
    }
    const session = sessions.of(req);
    if (!session) return refuse(res, path, NO_SESSION);
    conns?.mark(req, true);
    const badAction = checkAction(req, session, own);
    if (badAction) return refuse(res, path, badAction);

    if (path === "/api/session") return sendJson(res, 200, { csrf: session.csrf, store: hooks.root });
    if (path.startsWith("/api/")) return handleApi(ctx, req, res, url);
    const f = files.get(path);
    if (!f || req.method === "POST")
      return refuse(res, path, { status: 404, code: "LW_NOT_FOUND", message: "There is no such page here." });
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
  conns = guardConnections(server);
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
  own.hosts = new Set([`127.0.0.1:${actual}`, `localhost:${actual}`]);
  own.origins = new Set([...own.hosts].map((h) => `http://${h}`));
  return {
    url: `http://127.0.0.1:${actual}/login?token=${sessions.token}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
