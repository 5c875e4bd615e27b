// A refused object must reach its sender as the refusal, every time: the collector stops
// reading at max_blob while `logward ingest` is still writing the rest. If serve closed the
// connection then, ingest's next write could fail (EPIPE/ECONNRESET) before it read the
// refusal, and it said "closed the connection before confirming" instead, which `ship` takes
// for a broken channel and retries.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

test("an object over max_blob: ingest prints the refusal every time, never a broken connection", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store, '[store]\nmax_blob = "64KiB"\n');
  try {
    const big = randomBytes(8 * 1024 * 1024);
    const env = { QREXEC_REMOTE_DOMAIN: "win10", QREXEC_SERVICE_ARGUMENT: "evtx" };
    // two at a time, many rounds: the close races the sender's writes differently each time
    for (let round = 0; round < 20; round++) {
      const rs = await Promise.all([ingest(store, "blob", big, env), ingest(store, "blob", big, env)]);
      for (const r of rs) {
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          /^logward: The collector ended the session: refused: the object is larger than max_blob \(65536 bytes\); nothing was stored\.\n$/,
          `round ${round}`,
        );
      }
    }
  } finally {
    await d.stop();
  }
});
