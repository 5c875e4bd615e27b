// What the web UI's server hands its API: the collector's hooks (given by `logward serve`) and
// the counts of searches, live tails and exports this UI instance is running. Its own module so that
// the server and the API modules both depend on it and not on each other, and so that those
// counts belong to one UI, not to the process (two UIs in one process share nothing).

import type { PolicyState } from "../store/policy-state.ts";

export interface UiHooks {
  /** The store's directory (read with the same code as the CLI). */
  root: string;
  /** "origin/stream" of every stream a session is writing now. */
  liveStreams(): ReadonlySet<string>;
  /** Deletes and records, as `logward rm` does through the collector. */
  remove(req: {
    origin: string;
    stream: string | null;
    beforeUs: number | null;
    by: string;
  }): Promise<{ ok: boolean; records: number; bytes: number; message: string }>;
  /** Every origin's quota state and use now (as <store>/run/policy.json holds it). */
  policy(): PolicyState;
  /** `[viewers]` of the configuration. */
  viewers: Readonly<Record<string, readonly string[]>>;
  /** A search is stopped after this long (`[ui] search_timeout`). */
  searchTimeoutMs: number;
}

export interface ApiContext {
  hooks: UiHooks;
  /** Requests of this UI in progress that hold costly resources, each kind capped. */
  running: {
    /** Searches in their worker threads. */
    searches: number;
    /** Live tails (each holds inotify watches and a connection). */
    tails: number;
    /** Export archives being built or downloaded. */
    exports: number;
  };
}

export function newApiContext(hooks: UiHooks): ApiContext {
  return { hooks, running: { searches: 0, tails: 0, exports: 0 } };
}
