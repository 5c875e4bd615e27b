// logward search across origins, rotation and compression, with time windows; hostile content
// stays escaped; --count, --json, --regex, --ignore-case, globs.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { Store } from "../src/store/store.ts";
import { BIN, logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

test("logward search: every hit once, across segments and compression, in time windows, escaped", async () => {
  const root = join(tempDir(), "store");
  let now = Date.parse("2026-03-01T00:00:00Z") * 1000;
  // small segments, compressed: the hits fall in sealed .zst segments and the active one
  const store = await Store.open(root, { clock: () => now, maxSegmentBytes: 4096 });
  const want: string[] = [];
  for (const origin of ["work", "disp1", "disp2"]) {
    const w = await store.stream(origin, "main");
    for (let i = 0; i < 600; i++) {
      now += 1_000_000; // one record a second
      const hit = i % 50 === 7;
      w.appendRecords([
        Buffer.from(`${origin} record ${i} ${hit ? "NEEDLE \x1b[31mred" : "hay"} ${"z".repeat(30)}`),
      ]);
      if (hit) want.push(`${origin} ${i}`);
    }
    await store.flush();
  }
  await store.idle();
  await store.close();
  const run = (...args: string[]) => logward(["search", ...args, "--store", root]);

  const all = await run("NEEDLE");
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.toString().trim().split("\n");
  const got = lines.map((l) => {
    const m = /^(\w+)\/main \S+Z \d+ \. (\w+) record (\d+) NEEDLE \\x1b\[31mred z+$/.exec(l);
    assert.ok(m, l);
    return `${m[2]} ${m[3]}`;
  });
  // origins in name order, each in receive order
  assert.deepEqual(
    got,
    [...want].sort((a, b) =>
      a.split(" ")[0]! < b.split(" ")[0]!
        ? -1
        : a.split(" ")[0]! > b.split(" ")[0]!
          ? 1
          : Number(a.split(" ")[1]) - Number(b.split(" ")[1]),
    ),
  );
  assert.doesNotMatch(all.stdout.toString("latin1"), /\x1b/);

  const count = await run("NEEDLE", "--count");
  assert.equal(count.stdout.toString(), "disp1/main 12\ndisp2/main 12\nwork/main 12\ntotal 36\n");
  const glob = await run("needle", "--ignore-case", "--origin", "disp*", "--count");
  assert.equal(glob.stdout.toString(), "disp1/main 12\ndisp2/main 12\ntotal 24\n");
  const re = await run("record (7|57) NEEDLE", "--regex", "--origin", "work", "--json");
  const objs = re.stdout
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    objs.map((o) => [o.origin, o.stream, o.kind, o.seq]),
    [
      ["work", "main", "data", 8],
      ["work", "main", "data", 58],
    ],
  );
  assert.match(objs[0].payload, /NEEDLE \\x1b\[31mred/);
  // a time window: the work records 100 to 199 were received from 100 s to 199 s after the start
  const start = Date.parse("2026-03-01T00:00:00Z") + 1000;
  const win = await run(
    "NEEDLE",
    "--origin",
    "work",
    "--since",
    new Date(start + 100_000).toISOString(),
    "--until",
    new Date(start + 200_000).toISOString(),
    "--count",
  );
  assert.equal(win.stdout.toString(), "work/main 2\ntotal 2\n"); // records 107 and 157
  const none = await run("no such thing");
  assert.equal(none.code, 1);
  assert.equal(none.stdout.length, 0);
  const bad = await run("(", "--regex");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /is not a valid regular expression/);
});

test("logward search --follow: the hits so far, then new ones as they are stored, each once, from new origins too", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store);
  let child: ReturnType<typeof spawn> | null = null;
  try {
    await ingest(store, "lines", "old NEEDLE one\nold hay\n", { QREXEC_REMOTE_DOMAIN: "work" });
    child = spawn(
      process.execPath,
      [BIN, "search", "NEEDLE", "--follow", "--stream", "m*", "--store", store],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout!.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const waitFor = async (re: RegExp) => {
      for (let k = 0; k < 100 && !re.test(out); k++) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, re);
    };
    await waitFor(/old NEEDLE one/);
    await ingest(store, "lines", "new hay\nnew NEEDLE \x1b[2J two\n", { QREXEC_REMOTE_DOMAIN: "work" });
    // a new origin, and a new stream the --stream glob leaves out
    await ingest(store, "lines", "NEEDLE three\n", { QREXEC_REMOTE_DOMAIN: "personal" });
    await ingest(store, "lines", "NEEDLE elsewhere\n", {
      QREXEC_REMOTE_DOMAIN: "personal",
      QREXEC_SERVICE_ARGUMENT: "other",
    });
    await waitFor(/NEEDLE three/);
    await ingest(store, "lines", "NEEDLE four\n", { QREXEC_REMOTE_DOMAIN: "work" });
    await waitFor(/NEEDLE four/);
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const hits = out.trim().split("\n");
    assert.deepEqual(
      hits.map((l) => l.replace(/^(\S+) \S+ \d+ \. /, "$1 ")),
      [
        "work/main old NEEDLE one",
        "work/main new NEEDLE \\x1b[2J two",
        "personal/main NEEDLE three",
        "work/main NEEDLE four",
      ],
      "each hit once; a new origin's stream is followed, one outside --stream is not",
    );
  } finally {
    if (child?.exitCode === null) child.kill("SIGKILL");
    await d.stop();
  }
});
