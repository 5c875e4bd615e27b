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

const QUOTA_STATES: readonly unknown[] = ["ok", "near quota", "at quota", "refusing"];

function isOriginState(o: OriginPolicyState): boolean {
  return (
    typeof o === "object" &&
    o !== null &&
    QUOTA_STATES.includes(o.state) &&
    Number.isFinite(o.bytes) &&
    (o.quota === null || Number.isFinite(o.quota)) &&
    (o.group === null || typeof o.group === "string")
  );
}

/**
 * A state file's document, or null when the text is not one (too large, not JSON, no origins).
 * Throws nothing.
 */
export function parsePolicyState(text: string): PolicyState | null {
  if (text.length > MAX_STATE_BYTES) return null;
  try {
    const doc = JSON.parse(text) as PolicyState;
    if (typeof doc !== "object" || doc === null || typeof doc.origins !== "object" || doc.origins === null)
      return null;
    // every entry as the engine writes it, so that `ls` never prints a value of another type
    return Object.values(doc.origins).every(isOriginState) ? doc : null;
  } catch {
    return null;
  }
}
