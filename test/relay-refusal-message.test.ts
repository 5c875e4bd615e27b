// The sentence `logward ingest` prints when the collector refuses: the collector's own reason,
// which may already end with a full stop (the store's "... the new stream x is refused."),
// inside one sentence with exactly one full stop.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { relayToCollector } from "../src/wire/collector-client.ts";
import { encodeEnd } from "../src/wire/relay.ts";
import { tempDir } from "./helpers/tmp.ts";

for (const reason of [
  "the new stream s is refused.",
  "too many sessions from origin o (limit 16 per origin)",
]) {
  test(`a refusal reads as one sentence: "${reason}"`, async () => {
    const path = join(tempDir(), "ingest.sock");
    const server = createServer((sock) => {
      sock.on("data", () => {});
      sock.end(encodeEnd({ ok: false, records: 0, bytes: 0, message: reason }));
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      await assert.rejects(
        relayToCollector(
          path,
          { format: "lines", origin: "o", stream: "s" },
          () => Readable.from([Buffer.from("x\n")]),
          () => {},
        ),
        (err: Error) => {
          assert.equal(err.message, `The collector ended the session: ${reason.replace(/\.$/, "")}.`);
          assert.doesNotMatch(err.message, /\.\.$/);
          return true;
        },
      );
    } finally {
      server.close();
    }
  });
}
