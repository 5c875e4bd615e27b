// Responses of the web UI: every one carries the same security headers (docs/UI.md).

import type { ServerResponse } from "node:http";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
});

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value));
}

/** A JSON answer already serialized (records are built as JSON text, not as objects). */
export function sendJsonText(res: ServerResponse, json: string): void {
  send(res, 200, "application/json; charset=utf-8", json);
}

/** Why a request is not answered: its HTTP status and an error code and message for the person. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** A refusal: JSON for the API, a short page otherwise (the page says what to do). */
export function refuse(res: ServerResponse, path: string, { status, code, message }: Refusal): void {
  if (path.startsWith("/api/")) sendJson(res, status, { error: { code, message } });
  else
    send(
      res,
      status,
      "text/html; charset=utf-8",
      `<!doctype html><meta charset="utf-8"><title>logward</title><link rel="stylesheet" href="/style.css"><main class="refused"><h1>logward</h1><p>${message}</p></main>`,
    );
}
