// Names a hostile sender or a careless user can choose that are also names of JavaScript's
// Object.prototype: every table keyed by such a name must answer "unknown", never the
// prototype's function (issue 21, item 9).
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { chooseViewer } from "../src/query/open.ts";
import { logward } from "./helpers/cli.ts";
import { rawSession, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const PROTO_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];

describe("prototype names are unknown names", () => {
  test("logward CONSTRUCTOR: an unknown command (exit 2), not an internal error", async () => {
    for (const name of PROTO_NAMES) {
      const r = await logward([name]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /^logward: Unknown command /, name);
      const h = await logward(["help", name]);
      assert.equal(h.code, 0, `help ${name}: ${h.stderr}`);
      assert.match(h.stdout.toString(), /^Usage: logward COMMAND/, `help ${name}`);
    }
  });

  test("qrexec socket service: prototype service names are refused, relay formats too", async () => {
    const store = tempDir();
    const sock = join(store, "..", `svc-${Math.random().toString(36).slice(2)}.sock`);
    const d = await serve(store, `[collector]\nqrexec_sockets = ["${sock}"]\n`);
    try {
      for (const name of PROTO_NAMES) {
        await rawSession(sock, Buffer.from(`${name}+app work\0data\n`)).done;
        await rawSession(sock, Buffer.from(`${name} work\0data\n`)).done;
      }
      const relay = join(store, "run", "ingest.sock");
      for (const name of PROTO_NAMES)
        await rawSession(relay, `logward-relay 1 ${name} work main\ndata\n`).done;
      const r = await logward(["ingest", "--format", "constructor", "--store", store], {
        QREXEC_REMOTE_DOMAIN: "work",
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--format must be one of/);
    } finally {
      await d.stop();
    }
    assert.deepEqual(readdirSync(join(store, "origins")).sort(), ["_logward"]);
    const events = (await readAll(store, "_logward", "events")).map((r) => r.payload.toString());
    // repeats of one kind are aggregated: `repeated=N` stands for N more
    assert.equal(
      events
        .filter((e) => /event=refused transport=qrexec/.test(e))
        .map((e) => Number(/ repeated=(\d+)/.exec(e)?.[1] ?? 1))
        .reduce((x, y) => x + y, 0),
      2 * PROTO_NAMES.length,
      events.join("\n"),
    );
    assert.ok(!events.some((e) => /native code/.test(e)), events.join("\n"));
  });

  test("configuration keys, sections and groups named like prototype members are problems", async () => {
    const store = tempDir();
    const file = join(store, "..", `proto-${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(
      file,
      [
        "[collector]",
        "constructor = 1",
        "toString = 2",
        "[store]",
        "hasOwnProperty = 3",
        "[export]",
        "valueOf = 4",
        "[[policy]]",
        'match = "*"',
        'group = "constructor"',
        "[groups.__proto__]",
        'quota = "1GiB"',
        "",
      ].join("\n"),
    );
    const r = await logward(["serve", "--store", store, "--config", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /LW_CONFIG|configuration/);
    assert.doesNotMatch(r.stderr, /internal error/);
    for (const want of [
      /collector\.constructor is not a known setting/,
      /collector\.toString is not a known setting/,
      /store\.hasOwnProperty is not a known setting/,
      /export\.valueOf is not a known setting/,
      /names group "constructor", but there is no \[groups\.constructor\]/,
      /groups\.__proto__: not a valid group name/,
    ])
      assert.match(r.stderr, want);
  });

  test("a stream type named like a prototype member has no configured viewer", () => {
    for (const name of PROTO_NAMES) {
      // an empty [viewers] and no qvm-open-in-dvm: raw data has no viewer, said clearly
      assert.throws(
        () => chooseViewer({}, name, { raw: true, terminal: false }),
        /No viewer is configured/,
        name,
      );
    }
  });
});
