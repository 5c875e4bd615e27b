// What logward echoes on stderr: a sender's bytes (through ingest, whose stderr qrexec puts in
// the log qube's journal) and command-line arguments never reach it raw (issue 21, item 8).
// A control byte, a C1 control or a bidi override there could drive the terminal or the
// journal viewer of whoever reads the message.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { encodeHello } from "../src/wire/agent.ts";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

/** Anything a terminal acts on: C0 but LF, DEL, C1, bidi controls, line/paragraph separators. */
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

function assertSafe(stderr: string, what: string): void {
  assert.ok(stderr.length > 0, `${what}: something is said`);
  assert.doesNotMatch(stderr, UNSAFE, `${what}: ${JSON.stringify(stderr)}`);
  assert.ok(!stderr.slice(0, -1).includes("\n"), `${what}: one line: ${JSON.stringify(stderr)}`);
}

const EVIL = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202egnp.exe\r";

describe("nothing hostile is echoed raw", () => {
  test("ingest: an agent hello's stream name and version reach stderr escaped", async () => {
    const store = tempDir();
    const d = await serve(store);
    try {
      const env = { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "app" };
      const wrongStream = await ingest(
        store,
        "agent",
        encodeHello({ stream: EVIL, spool: "a".repeat(32) }),
        env,
      );
      assert.equal(wrongStream.code, 1, wrongStream.stderr);
      assert.match(wrongStream.stderr, /the hello names stream/);
      assertSafe(wrongStream.stderr, "hello stream");
      // a version field with ESC and a latin-1 C1 byte (0x9b, CSI)
      const hello = Buffer.concat([
        Buffer.from("logward-agent "),
        Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x9b, 0x07]),
        Buffer.from(` app ${"a".repeat(32)}`),
      ]);
      const frame = Buffer.concat([Buffer.from([0x48]), Buffer.alloc(4), hello]);
      frame.writeUInt32BE(hello.length, 1);
      const badVersion = await ingest(store, "agent", frame, env);
      assert.equal(badVersion.code, 1, badVersion.stderr);
      assert.match(badVersion.stderr, /unsupported agent protocol version/);
      assertSafe(badVersion.stderr, "hello version");
    } finally {
      await d.stop();
    }
  });

  test("CLI errors escape every argument they echo", async () => {
    const store = tempDir();
    const missing = join(store, "..", `no-such-${EVIL}`);
    const cases: [string, string[]][] = [
      ["--since", ["show", "work", "--store", store, "--since", EVIL]],
      ["--until", ["search", "x", "--store", store, "--until", EVIL]],
      ["--regex", ["search", `(${EVIL}`, "--regex", "--store", store]],
      ["--store", ["ls", "--store", missing]],
      ["-o", ["export", "work", "--store", store, "-o", join(missing, "x.tar.zst")]],
      ["--config", ["serve", "--store", store, "--config", missing]],
      ["unknown option", ["ls", `--${EVIL}`]],
      ["unknown command", [EVIL]],
      ["origin", ["show", `${EVIL}/x`, "--store", store]],
    ];
    for (const [what, args] of cases) {
      const r = await logward(args, { LOGWARD_UI_PORT: "0" });
      assert.notEqual(r.code, 0, what);
      assert.match(r.stderr, /^logward: /, what);
      assertSafe(r.stderr, what);
    }
  });
});
