// Hostile probes of the store's directory tree (issue 21): a symbolic link planted as an origin
// directory, a stream directory or a segment file, pointing outside the store, is neither
// written through by `serve` nor read through by `show`, `ls` and `search`.

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

/** Every file under dir with its content, to see that nothing outside changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name)] = readFileSync(join(e.parentPath, e.name), "latin1");
  }
  return out;
}

describe("symbolic links planted in the store", () => {
  const dir = tempDir();
  const outside = join(dir, "outside");
  const store = join(dir, "store");
  let d: Daemon;
  let before0: Record<string, string>;
  let victimSegment: string;
  const outsideFiles = () => ({
    ...snapshot(outside),
    ...snapshot(join(dir, "empty-origin")),
    ...snapshot(join(dir, "empty-stream")),
  });

  before(async () => {
    // a real store elsewhere, holding a secret: what the links point at
    const o = await serve(outside);
    assert.equal(
      (await ingest(outside, "lines", "SECRET one\n", { QREXEC_REMOTE_DOMAIN: "victim" })).code,
      0,
    );
    await o.stop();
    const victim = join(outside, "origins", "victim");
    victimSegment = join(victim, "main", readdirSync(join(victim, "main")).find((f) => /^\d+\./.test(f))!);
    mkdirSync(join(dir, "empty-origin"));
    mkdirSync(join(dir, "empty-stream"));
    before0 = outsideFiles();

    d = await serve(store);
    assert.equal((await ingest(store, "lines", "fine\n", { QREXEC_REMOTE_DOMAIN: "work" })).code, 0);
    const origins = join(store, "origins");
    symlinkSync(victim, join(origins, "evil")); // an origin dir with a stream holding the secret
    symlinkSync(join(dir, "empty-origin"), join(origins, "evil2")); // an empty one, to write into
    symlinkSync(join(victim, "main"), join(origins, "work", "linked")); // a stream dir
    // (other origins: the collector records one refusal per origin and kind, then counts repeats)
    mkdirSync(join(origins, "two"));
    symlinkSync(join(dir, "empty-stream"), join(origins, "two", "linked2"));
    mkdirSync(join(origins, "three", "seg"), { recursive: true });
    symlinkSync(victimSegment, join(origins, "three", "seg", victimSegment.split("/").at(-1)!)); // a segment
  });
  after(async () => {
    await d.stop();
  });

  test("serve does not write through a linked origin, stream or segment; it records why", async () => {
    const tries: [string, string | undefined][] = [
      ["evil", undefined],
      ["evil2", undefined],
      ["work", "linked"],
      ["two", "linked2"],
      ["three", "seg"],
    ];
    for (const [origin, stream] of tries) {
      const env: NodeJS.ProcessEnv = { QREXEC_REMOTE_DOMAIN: origin };
      if (stream) env.QREXEC_SERVICE_ARGUMENT = stream;
      const r = await ingest(store, "lines", "INTRUDER\n", env);
      assert.notEqual(r.code, 0, `${origin}/${stream}: ${r.stderr}`);
    }
    assert.deepEqual(outsideFiles(), before0, "nothing outside the store changed");
    const events = await logward(["show", "_logward/events", "--store", store]);
    const text = events.stdout.toString();
    for (const name of ["evil", "evil2", "work/linked", "two/linked2", "three/seg"])
      assert.match(
        text,
        new RegExp(`${name.replace("/", "\\/")}.*symbolic link|symbolic link.*${name}`),
        text,
      );
    // the collector goes on for everyone else
    assert.equal((await ingest(store, "lines", "still fine\n", { QREXEC_REMOTE_DOMAIN: "work" })).code, 0);
  });

  test("show, ls and search do not read through a link; they say so in one sentence", async () => {
    for (const target of ["evil", "evil/main", "work/linked", "three/seg", "three", "work"]) {
      const r = await logward(["show", target, "--store", store]);
      assert.doesNotMatch(r.stdout.toString(), /SECRET/, target);
      if (target !== "work") assert.match(r.stderr, /symbolic link/, `${target}: ${r.stderr}`);
    }
    const ls = await logward(["ls", "--store", store]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.doesNotMatch(ls.stdout.toString(), /evil|linked|victim/);
    const s = await logward(["search", "SECRET", "--store", store]);
    assert.doesNotMatch(s.stdout.toString(), /SECRET/);
    const all = await logward(["show", "work", "--store", store]);
    assert.match(all.stdout.toString(), /fine/);
  });
});
