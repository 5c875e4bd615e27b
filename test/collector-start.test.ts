// The collector's one coarse deadline timer must not tick before start() has built what it looks
// at. On a loaded 2-core machine opening the store took over a second, the first tick found no
// OwnRecords yet, and `serve` died with "Cannot read properties of undefined (reading 'run')"
// (seen in test/resume.test.ts). Mocked timers make the slow start deterministic: a tick is
// forced at every turn of the event loop while start() runs.

import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mock, test } from "node:test";
import { Collector } from "../src/collector/collector.ts";
import { defaultConfig } from "../src/config/defaults.ts";

test("a deadline tick during a slow start-up does not crash the collector", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lw-start-"));
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    const starting = Collector.start(dir, defaultConfig(dir));
    let done = false;
    let ticks = 0;
    void starting.finally(() => {
      done = true;
    });
    const thrown: string[] = [];
    while (!done) {
      try {
        mock.timers.tick(1000); // a whole second passes at every turn: the old code threw here
      } catch (err) {
        thrown.push((err as Error).message);
      }
      ticks++;
      await new Promise((r) => setImmediate(r));
    }
    const c = await starting;
    assert.deepEqual(thrown, [], "a deadline tick threw during start-up");
    assert.ok(ticks > 1, "start-up took several turns of the event loop");
    mock.timers.tick(1000); // and ticking after start still works
    await c.stop();
  } finally {
    mock.timers.reset();
    await rm(dir, { recursive: true, force: true });
  }
});
