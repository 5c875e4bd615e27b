// The policy's state as `logward ls` and the web UI show it: every origin's quota state, bytes
// and quota, and the free space, written to <store>/run/policy.json (atomically, through the
// store's one writer of that document) when it changed, at most five times a second, so that
// `ls` need not ask the daemon.

import { type PolicyState, writePolicyState } from "../store/policy-state.ts";

export type { OriginPolicyState, PolicyState, QuotaState } from "../store/policy-state.ts";

/** A change is written this long after it is marked, with every other change meanwhile. */
const STATE_DELAY_MS = 200;

export class StateFile {
  private readonly root: string;
  private readonly snapshot: () => PolicyState;
  private due = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The origins part of the state file last written. */
  private shown = "";

  constructor(root: string, snapshot: () => PolicyState) {
    this.root = root;
    this.snapshot = snapshot;
  }

  /** Something `ls` shows changed: write the state file soon. */
  mark(): void {
    this.due = true;
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.write();
    }, STATE_DELAY_MS);
    this.timer.unref();
  }

  /** Writes the state file when something changed (`force`: in any case). */
  async write(force = false): Promise<void> {
    const doc = this.snapshot();
    // the bytes change without a state change too (eviction, compression): `ls` shows them
    const shown = JSON.stringify(doc.origins);
    if (!this.due && !force && shown === this.shown) return;
    this.due = false;
    this.shown = shown;
    await writePolicyState(this.root, doc).catch(() => {});
  }

  /** No more delayed writes (the last one is the caller's `write(true)`). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
