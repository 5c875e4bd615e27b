// Polling for tests that wait on another process (a daemon, a ship, a viewer): one helper, so
// every test times out the same way and says what it was waiting for.

import { setTimeout as sleep } from "node:timers/promises";

export interface UntilOptions {
  /** How long to wait before failing, ms. */
  ms?: number;
  /** How often to check, ms: checks that run the CLI want a slower pace than a file test. */
  everyMs?: number;
}

/** Resolves once `ok()` holds; throws "timed out waiting for <what>" after `ms`. `ok` may be async. */
export async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  { ms = 10_000, everyMs = 25 }: UntilOptions = {},
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
