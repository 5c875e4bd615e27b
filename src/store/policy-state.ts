// The policy state file, <store>/run/policy.json (docs/FORMAT.md, "Policy state"): every
// origin's quota state, bytes and quota, and the free space, as the collector's policy engine
// last saw them. The engine writes it (policy/state.ts); `ls` and the web UI read it without
// asking the daemon (query/policy-state.ts). One type, one writer and one parser, so that both
// sides agree on the document.

import { writeFileAtomic } from "./files.ts";
import { policyStatePath } from "./layout.ts";

export type QuotaState = "ok" | "near quota" | "at quota" | "refusing";

/** One origin's entry. */
export interface OriginPolicyState {
  state: QuotaState;
  bytes: number;
  quota: number | null;
  group: string | null;
}

/** What run/policy.json holds. */
export interface PolicyState {
  /** When it was written (ISO 8601). */
  updated: string;
  disk: { free: number; low: boolean };
  origins: Record<string, OriginPolicyState>;
}

/** A document larger than this is not a state file logward wrote: it is treated as unknown. */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** The file's text for a document: one line of JSON. */
export function formatPolicyState(doc: PolicyState): string {
  return `${JSON.stringify(doc)}\n`;
}

/** Writes the state file atomically (a reader sees the old document or the new one). */
export function writePolicyState(root: string, doc: PolicyState): Promise<void> {
  return writeFileAtomic(policyStatePath(root), formatPolicyState(doc));
}

/**
 * A state file's document, or null when the text is not one (too large, not JSON, no origins).
 * Throws nothing.
 */
export function parsePolicyState(text: string): PolicyState | null {
  if (text.length > MAX_STATE_BYTES) return null;
  try {
    const doc = JSON.parse(text) as PolicyState;
    return typeof doc === "object" && doc !== null && typeof doc.origins === "object" ? doc : null;
  } catch {
    return null;
  }
}
