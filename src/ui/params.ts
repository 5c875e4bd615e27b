// The web UI API's parameters, checked: every one is hostile until checked here. Names go
// through the store's name rules, times through the CLI's time parser, numbers are bounded,
// and an action's body is a small JSON object; nothing builds a path from a raw string.

import type { IncomingMessage } from "node:http";
import { LogwardError } from "../errors.ts";
import { timeBound } from "../query/time.ts";
import { checkName, checkStoredOrigin } from "../store/names.ts";
import type { Window } from "../store/read.ts";

const MAX_BODY = 16 * 1024;

export type Params = URLSearchParams;

export function originParam(value: string | null, what = "origin"): string {
  if (value === null || value === "") throw new LogwardError("LW_USAGE", `Give the ${what} to read.`);
  return checkStoredOrigin(value);
}

export function streamParam(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : checkName("stream", value);
}

export function intParam(p: Params, name: string, dflt: number, min: number, max: number): number {
  const v = p.get(name);
  if (v === null || v === "") return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new LogwardError("LW_USAGE", `${name} must be a whole number from ${min} to ${max}.`);
  return n;
}

export function windowParams(p: Params): Window {
  const now = Date.now() * 1000;
  return {
    since: timeBound("since", p.get("since") || undefined, now),
    until: timeBound("until", p.get("until") || undefined, now),
  };
}

/** An action's body: a JSON object of at most MAX_BODY bytes. */
export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(req.headers["content-type"] ?? ""))
    throw new LogwardError("LW_USAGE", "Send the action as application/json.");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new LogwardError("LW_USAGE", "The request is too large.");
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {}
  throw new LogwardError("LW_USAGE", "The request body is not a JSON object.");
}

/** A body field as a string, or null when it is missing or not a string. */
export const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
