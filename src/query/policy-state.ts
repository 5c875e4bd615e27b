// What the collector last said about each origin's quota (`<store>/run/policy.json`, written by
// the policy engine when a state changes; its format is store/policy-state.ts): `ls` shows it
// without asking the daemon. Missing or unreadable means unknown, never an error: the store is
// readable without a collector.

import { readFileSyncNoFollow } from "../store/files.ts";
import { policyStatePath } from "../store/layout.ts";
import { type OriginPolicyState, type PolicyState, parsePolicyState } from "../store/policy-state.ts";

/** One origin's state; an origin named "constructor" finds its own entry or none. */
export function originPolicy(
  state: PolicyState | null | undefined,
  origin: string,
): OriginPolicyState | undefined {
  const o = state?.origins;
  return o && Object.hasOwn(o, origin) ? o[origin] : undefined;
}

/** The state file's document, or null when there is none or it cannot be read. */
export function readPolicyState(root: string): PolicyState | null {
  try {
    return parsePolicyState(readFileSyncNoFollow(policyStatePath(root), "utf8"));
  } catch {
    return null;
  }
}
