// The format of `<store>/run/drops.json`: what the collector dropped or refused, counted per
// origin and per listener (written by src/collector/drop-counts.ts; read by `ls` and the web
// UI). Totals since the store began. A tampered or unreadable file reads as no drops, never as
// an error, and names are looked up with Object.hasOwn (an origin named "constructor").

import { join } from "node:path";
import { readFileSyncNoFollow } from "./files.ts";
import { runDir } from "./layout.ts";

/** Origins and listeners counted; more are summed under "*" (a forged-address flood). */
export const MAX_KEYS = 4096;

export interface DropCount {
  /** Everything dropped or refused. */
  drops: number;
  /** By kind (`udp-backlog`, `kernel`, `too-many-connections/tls`, ...). */
  kinds: Record<string, number>;
  /** When the last one was counted (ISO 8601). */
  last: string;
}

export interface DropState {
  version: 1;
  /** By origin name. */
  origins: Record<string, DropCount>;
  /** By listener (its address), including what no origin could be named for. */
  listeners: Record<string, DropCount>;
}

/** <store>/run/drops.json */
export function dropStatePath(root: string): string {
  return join(runDir(root), "drops.json");
}

/** The state file's document, or null when there is none or it cannot be read. */
export function readDropState(root: string): DropState | null {
  try {
    return parseDropState(readFileSyncNoFollow(dropStatePath(root), "utf8"));
  } catch {
    return null;
  }
}

/** A checked document: counts are non-negative safe integers, anything else is left out. */
export function parseDropState(text: string): DropState | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!doc || typeof doc !== "object" || (doc as { version?: unknown }).version !== 1) return null;
  const d = doc as { origins?: unknown; listeners?: unknown };
  return { version: 1, origins: counts(d.origins), listeners: counts(d.listeners) };
}

function counts(v: unknown): Record<string, DropCount> {
  const out: Record<string, DropCount> = Object.create(null);
  if (!v || typeof v !== "object") return out;
  for (const [k, c] of Object.entries(v).slice(0, MAX_KEYS + 1)) {
    if (!c || typeof c !== "object") continue;
    const { drops, kinds, last } = c as { drops?: unknown; kinds?: unknown; last?: unknown };
    if (!isCount(drops)) continue;
    const ks: Record<string, number> = Object.create(null);
    if (kinds && typeof kinds === "object")
      for (const [kind, n] of Object.entries(kinds).slice(0, 64)) if (isCount(n)) ks[kind] = n;
    out[k] = { drops, kinds: ks, last: typeof last === "string" ? last.slice(0, 40) : "" };
  }
  return out;
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** One origin's drops (0 when none were counted); "constructor" finds its own entry or none. */
export function originDrops(state: DropState | null, origin: string): number {
  const o = state?.origins;
  return o && Object.hasOwn(o, origin) ? o[origin]!.drops : 0;
}
