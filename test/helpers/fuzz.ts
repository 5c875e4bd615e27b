// What the fuzz-*.test.ts files share: how many runs a property gets and for how long, and the
// corpus of crashers (test/fixtures/crashers/<parser>/, README there) replayed as regression
// fixtures. In `npm test` every property runs its tuned count and stops after a few seconds
// whatever the count, so a loaded machine never makes the suite hang; `npm run fuzz` sets
// FUZZ_RUNS (runs of a cheap property; a slow one, that writes files, gets a tenth) and
// FUZZ_SECONDS (the time bound of each property) to run the same properties at scale.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Parameters } from "fast-check";

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 0);
const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
/** True under `npm run fuzz`. */
export const FUZZING = FUZZ_RUNS > 0;

/** fast-check parameters: `numRuns` runs (FUZZ_RUNS when fuzzing), bounded in time. */
export function runs(numRuns: number, opts: { slow?: boolean } = {}): Parameters<unknown> {
  const scaled = FUZZING ? Math.max(numRuns, opts.slow ? Math.ceil(FUZZ_RUNS / 10) : FUZZ_RUNS) : numRuns;
  const seconds = FUZZING ? FUZZ_SECONDS || 60 : 4;
  return { numRuns: scaled, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false };
}

const CRASHERS = new URL("../fixtures/crashers/", import.meta.url).pathname;

/** The crashers kept for `parser`: each file's name and its bytes (the input as the parser got it). */
export function crashers(parser: string): Array<{ name: string; bytes: Buffer }> {
  const dir = join(CRASHERS, parser);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(".bin"))
    .map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
}

/** Calls `f` and returns what it threw (undefined if nothing). */
export function thrown(f: () => void): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Awaits `f` and returns what it rejected with (undefined if nothing). */
export async function rejected(f: () => Promise<unknown>): Promise<unknown> {
  try {
    await f();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** True when `text` holds no raw C0 control (except none), DEL or C1 byte: safe to echo. */
export function echoSafe(text: string): boolean {
  return !/[\x00-\x1f\x7f-\x9f]/.test(text);
}
