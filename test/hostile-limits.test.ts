// Limits that had no test of their own (issue 21, "Resource limits and load"): each is hit, and
// the test shows a clear refusal, the record of it, and no effect on anyone else. The limits
// and their values are listed in docs/CONFIG.md, "Limits".
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type ClientRequest, type IncomingMessage, request } from "node:http";
import type { Socket } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { MAX_PENDING_CONNECTIONS } from "../src/collector/collector.ts";
import { ingest, rawSession, serve, uiLogin } from "./helpers/daemon.ts";
import { endOf } from "./helpers/hostile.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a GET and resolves at its response head (the body may go on, as a tail's does). */
function open(url: string, cookie: string): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Cookie: cookie }, agent: false }, (res) => resolve({ req, res }));
    req.setTimeout(8_000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function body(res: IncomingMessage): Promise<string> {
  let text = "";
  res.setEncoding("utf8");
  for await (const d of res) text += d;
  return text;
}

describe("limits hit one by one", { timeout: 60_000 }, () => {
  test("connections without a header: past the limit the oldest close at once, counted; a sender gets in", async () => {
    const store = join(tempDir(), "store");
    const d = await serve(store);
    const path = join(store, "run", "ingest.sock");
    const over = 100;
    const silent: Socket[] = [];
    try {
      for (let i = 0; i < MAX_PENDING_CONNECTIONS + over; i++) {
        const s = rawSession(path, "", true).socket;
        silent.push(s);
        await new Promise<void>((r) => {
          s.once("connect", () => r());
          s.once("close", () => r());
        });
      }
      // long before header_timeout (10 s): the oldest `over` are closed, the newest kept
      for (let k = 0; k < 50 && silent.slice(0, over).some((s) => !s.closed); k++) await sleep(100);
      assert.equal(silent.slice(0, over).filter((s) => !s.closed).length, 0, "the oldest were closed");
      assert.ok(
        silent.slice(-50).every((s) => !s.closed),
        "the newest are still waiting for their header",
      );
      // a sender that sends its header gets in, and so does one through ingest
      const end = endOf(await rawSession(path, "logward-relay 1 lines victim main\nheard\n").done);
      assert.ok(end.ok, end.message);
      const viaIngest = await ingest(store, "lines", "heard too\n", { QREXEC_REMOTE_DOMAIN: "victim" });
      assert.equal(viaIngest.code, 0, viaIngest.stderr);
    } finally {
      for (const s of silent) s.destroy();
      await d.stop();
    }
    const victim = (await readAll(store, "victim", "main")).filter((r) => r.kind === ".");
    assert.deepEqual(
      victim.map((r) => r.payload.toString()),
      ["heard", "heard too"],
    );
    const counted = (await readAll(store, "_logward", "events"))
      .map((r) => r.payload.toString())
      .filter((e) => /event=refused .*kind=too-many-pending/.test(e))
      .map((e) => Number(/ repeated=(\d+)/.exec(e)?.[1] ?? 1))
      .reduce((a, b) => a + b, 0);
    assert.ok(counted >= over, `${counted} refusals of kind too-many-pending recorded`);
  });

  test("live tails in the web UI: the 33rd is refused with LW_BUSY; other requests are answered", async () => {
    const store = join(tempDir(), "store");
    const d = await serve(store);
    const tails: ClientRequest[] = [];
    try {
      const seeded = await ingest(store, "lines", "one\n", { QREXEC_REMOTE_DOMAIN: "a" });
      assert.equal(seeded.code, 0, seeded.stderr);
      const login = uiLogin(store);
      const first = await open(login, "");
      assert.equal(first.res.statusCode, 303);
      first.res.resume();
      const cookie = String(first.res.headers["set-cookie"]).split(";")[0]!;
      const base = new URL(login).origin;
      for (let i = 0; i < 32; i++) {
        const t = await open(`${base}/api/tail?origin=a&stream=main`, cookie);
        assert.equal(t.res.statusCode, 200);
        tails.push(t.req);
      }
      const refused = await open(`${base}/api/tail?origin=a&stream=main`, cookie);
      assert.equal(refused.res.statusCode, 409);
      assert.match(await body(refused.res), /32 live tails are open already; close some and try again\./);
      const other = await open(`${base}/api/origins`, cookie);
      assert.equal(other.res.statusCode, 200);
      await body(other.res);
      // and ingestion goes on meanwhile
      const more = await ingest(store, "lines", "two\n", { QREXEC_REMOTE_DOMAIN: "b" });
      assert.equal(more.code, 0, more.stderr);
      // a closed tail frees its place
      tails.pop()!.destroy();
      let again = 0;
      for (let k = 0; k < 50 && again !== 200; k++) {
        await sleep(100);
        const t = await open(`${base}/api/tail?origin=a&stream=main`, cookie);
        again = t.res.statusCode ?? 0;
        if (again === 200) tails.push(t.req);
        else t.res.resume();
      }
      assert.equal(again, 200);
    } finally {
      for (const t of tails) t.destroy();
      await d.stop();
    }
  });

  test("exports in the web UI: a third while two download is refused with LW_BUSY; others go on", async () => {
    const store = join(tempDir(), "store");
    const d = await serve(store);
    const held: ClientRequest[] = [];
    try {
      // an archive far larger than the socket buffers, so an unread download holds its export
      const lines = Array.from({ length: 512 }, () => `${randomBytes(48 * 1024).toString("base64")}\n`).join(
        "",
      );
      const seeded = await ingest(store, "lines", lines, { QREXEC_REMOTE_DOMAIN: "big" });
      assert.equal(seeded.code, 0, seeded.stderr);
      const login = uiLogin(store);
      const first = await open(login, "");
      first.res.resume();
      const cookie = String(first.res.headers["set-cookie"]).split(";")[0]!;
      const base = new URL(login).origin;
      for (let i = 0; i < 2; i++) {
        const e = await open(`${base}/api/export?origin=big`, cookie);
        assert.equal(e.res.statusCode, 200);
        held.push(e.req); // never read: the download stalls
      }
      const refused = await open(`${base}/api/export?origin=big`, cookie);
      assert.equal(refused.res.statusCode, 409);
      assert.match(await body(refused.res), /2 exports are being built or downloaded already/);
      const other = await open(`${base}/api/origins`, cookie);
      assert.equal(other.res.statusCode, 200);
      await body(other.res);
      const more = await ingest(store, "lines", "still heard\n", { QREXEC_REMOTE_DOMAIN: "b" });
      assert.equal(more.code, 0, more.stderr);
      // an abandoned download frees its place
      held.pop()!.destroy();
      let again = 0;
      for (let k = 0; k < 50 && again !== 200; k++) {
        await sleep(100);
        const e = await open(`${base}/api/export?origin=big`, cookie);
        again = e.res.statusCode ?? 0;
        if (again === 200) held.push(e.req);
        else e.res.resume();
      }
      assert.equal(again, 200);
    } finally {
      for (const h of held) h.destroy();
      await d.stop();
    }
  });
});
