// SIGHUP applies [[listen]] and [viewers] (and [[policy]]: policy.test.ts; [[output]]:
// output-reload.test.ts) without dropping a connection: a listener removed stops accepting while
// its open connection goes on storing; one added starts; one that cannot start (its address in
// use) is one sentence in the log and leaves the rest as they are; the web UI's open uses the
// new viewer.

import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { freePort } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { uiSession } from "./helpers/ui-session.ts";
import { until } from "./helpers/until.ts";

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

function config(port: number, viewed: string, extra = ""): string {
  return (
    `[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "tcpsender"\n` +
    `[viewers]\ndefault = ["cp", "{file}", "${viewed}"]\n${extra}`
  );
}

async function messages(store: string): Promise<string[]> {
  return (await readAll(store, "tcpsender", "syslog"))
    .filter((r) => r.kind === ".")
    .map((r) => r.payload.toString());
}

/** POST /api/open for the stream, as the web UI's Open button does. */
async function uiOpen(store: string): Promise<number> {
  const { base, cookie, csrf } = await uiSession(store);
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/api/open`,
      {
        method: "POST",
        headers: { Cookie: cookie, "Content-Type": "application/json", "X-CSRF-Token": csrf, Origin: base },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ origin: "tcpsender", stream: "syslog" }));
  });
}

test("SIGHUP moves a listener without dropping its connection, starts the new one, and the UI opens with the new viewer", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const [a, b, busy] = [await freePort(), await freePort(), await freePort()];
  const d = await serve(store, config(a, join(dir, "viewed-a")));
  const file = join(dir, readdirSync(dir).find((f) => f.startsWith("config-"))!);
  const blocker = createServer().listen(busy, "127.0.0.1");
  try {
    const old = await open(a);
    old.write("<13>1 - h app - - - before reload\n");
    await until("the first message", async () => (await messages(store)).length === 1);

    writeFileSync(file, config(b, join(dir, "viewed-b")));
    d.proc.kill("SIGHUP");
    await until("the new listener", () =>
      open(b).then(
        (s) => {
          s.destroy();
          return true;
        },
        () => false,
      ),
    );
    await until("the old address refuses", () =>
      open(a).then(
        (s) => {
          s.destroy();
          return false;
        },
        () => true,
      ),
    );
    // the connection of the removed listener is still a session and still stores
    old.write("<13>1 - h app - - - on the old connection after reload\n");
    const fresh = await open(b);
    fresh.end("<13>1 - h app - - - on the new listener\n");
    await until("both messages", async () => (await messages(store)).length === 3);
    assert.ok(!old.destroyed, "the old connection was not dropped");
    old.end();

    assert.equal(await uiOpen(store), 200);
    await until("the new viewer ran", () => existsSync(join(dir, "viewed-b")));
    assert.equal(existsSync(join(dir, "viewed-a")), false, "not the old viewer");

    // a listener that cannot start: one sentence, and the running one goes on
    writeFileSync(
      file,
      config(
        b,
        join(dir, "viewed-b"),
        `[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${busy}"\norigin = "x"\n`,
      ),
    );
    d.proc.kill("SIGHUP");
    await until("the failure in the log", () =>
      /listen #2 \(tcp 127\.0\.0\.1:\d+\) did not start/.test(d.out()),
    );
    const again = await open(b);
    again.end("<13>1 - h app - - - still listening\n");
    await until("the fourth message", async () => (await messages(store)).length === 4);
  } finally {
    blocker.close();
    await d.stop();
  }
});
