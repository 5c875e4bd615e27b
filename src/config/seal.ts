// `[seal]`: how often `serve` seals each stream (docs/SEALS.md) and the command that receives a
// checkpoint after each interval's seals (e.g. qrexec-client-vm to another qube). The keys are
// read like [collector]'s (rule.ts); the sealing key itself is in the store, never here.

import type { Rule } from "./rule.ts";
import { within } from "./rule.ts";
import { parseDuration } from "./units.ts";

/** Default `[seal] interval`: 15 minutes, like journald's sealing. */
export const DEFAULT_SEAL_INTERVAL_MS = 15 * 60 * 1000;

export const SEAL_KEYS: Record<string, Rule> = {
  interval: {
    key: "sealIntervalMs",
    // "15min" as the issue and journald write it, besides units.ts's "15m"
    parse: within(
      (v) => parseDuration(typeof v === "string" ? v.replace(/min$/, "m") : v),
      1000,
      24 * 3600 * 1000,
    ),
    want: 'a duration from "1s" to "24h", such as "15min"',
  },
  checkpoint_command: {
    key: "sealCheckpointCommand",
    parse: (v) =>
      Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === "string" && a.length > 0)
        ? Object.freeze([...v])
        : null,
    want: 'a command as a list that reads the checkpoint on stdin, such as ["qrexec-client-vm", "vault", "logward.Checkpoint"]',
  },
};
