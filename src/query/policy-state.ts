// What the collector last said about each origin's quota (`<store>/run/policy.json`, written by
// the policy engine when a state changes): `ls` shows it without asking the daemon. Missing or
// unreadable means unknown, never an error: the store is readable without a collector.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface OriginPolicyState {
  state: string;
  bytes: number;
  quota: number | null;
  group: string | null;
}

export interface PolicyState {
  updated: string;
  disk: { free: number; low: boolean };
  origins: Record<string, OriginPolicyState>;
}

/** One origin's state; an origin named "constructor" finds its own entry or none. */
export function originPolicy(
  state: PolicyState | null | undefined,
  origin: string,
): OriginPolicyState | undefined {
  const o = state?.origins;
  return o && Object.hasOwn(o, origin) ? o[origin] : undefined;
}

const MAX_STATE_BYTES = 16 * 1024 * 1024;

export function readPolicyState(root: string): PolicyState | null {
  try {
    const text = readFileSync(join(root, "run", "policy.json"), "utf8");
    if (text.length > MAX_STATE_BYTES) return null;
    const doc = JSON.parse(text) as PolicyState;
    return typeof doc === "object" && doc !== null && typeof doc.origins === "object" ? doc : null;
  } catch {
    return null;
  }
}
