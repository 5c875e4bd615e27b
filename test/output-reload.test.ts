// SIGHUP and outputs: a conf.d drop-in added and loaded by SIGHUP starts delivering; a bad
// drop-in is refused with one sentence and the running output goes on untouched (same plugin
// process, nothing lost); an output whose plugin never reads its stdin never slows ingest.

import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { ingest, serve, uiLogin } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const PLUGIN = join(import.meta.dirname, "fixtures/exec-plugin.ts");
const env = { QREXEC_REMOTE_DOMAIN: "vm1", QREXEC_SERVICE_ARGUMENT: "test" };

function lines(from: number, n: number): string {
  let s = "";
  for (let i = from; i < from + n; i++) s += `line ${i}\n`;
  return s;
}

/** Data records at the plugin, by seq. */
function seqs(out: string): Set<number> {
  if (!existsSync(out)) return new Set();
  return new Set(
    readFileSync(out, "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f[0] === "vm1/test" && f[2] === ".")
      .map((f) => Number(f[1])),
  );
}

/** A directory the plugin may write to: as root, serve runs it as "nobody". */
function writable(dir: string): string {
  chmodSync(dir, 0o755);
  const d = join(dir, "plugin");
  mkdirSync(d);
  chmodSync(d, 0o777);
  return d;
}

test("a conf.d drop-in loaded by SIGHUP starts delivering; a bad one is refused and the old keeps working", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const confd = join(dir, "conf.d");
  mkdirSync(confd);
  const out = join(writable(dir), "out");
  const d = await serve(store, `include = "${confd}/*.toml"\n`);
  try {
    assert.equal((await ingest(store, "lines", lines(1, 100), env)).code, 0);
    writeFileSync(
      join(confd, "10-plugin.toml"),
      `[[output]]\nname = "plug"\ntype = "exec"\nacks = true\ncommand = "${process.execPath} ${PLUGIN} ${out} --ack"\n`,
    );
    d.proc.kill("SIGHUP");
    // start = "oldest" (the default): the records stored before the output existed come too
    await until("the drop-in's output delivers", () => seqs(out).size === 100);
    const pid = readFileSync(`${out}.pid`, "utf8");

    writeFileSync(join(confd, "20-bad.toml"), `[[output]]\nname = "plug"\ntype = "exec"\ncommand = "true"\n`);
    d.proc.kill("SIGHUP");
    await until("the refusal in the log", () => /reload refused/.test(d.out()));
    const refusal = d
      .out()
      .split("\n")
      .find((l) => l.includes("reload refused"))!;
    assert.match(refusal, /20-bad\.toml/);
    assert.match(refusal, /name plug is used by another \[\[output\]\]/);

    assert.equal((await ingest(store, "lines", lines(101, 100), env)).code, 0);
    await until("the old output delivers what came after", () => seqs(out).size === 200);
    assert.equal(readFileSync(`${out}.pid`, "utf8"), pid, "the plugin was not restarted");

    // removed by the next SIGHUP: stops, and its cursor stays for when it comes back
    writeFileSync(join(confd, "20-bad.toml"), "");
    writeFileSync(join(confd, "10-plugin.toml"), "");
    d.proc.kill("SIGHUP");
    await until("the plugin stops", () => {
      try {
        process.kill(Number(pid), 0);
        return false;
      } catch {
        return true;
      }
    });
    const cursors = JSON.parse(readFileSync(join(store, "run/outputs/plug/cursors.json"), "utf8"));
    assert.ok(cursors.streams["vm1/test"].seq >= 201, "the cursor is past every data record");
  } finally {
    await d.stop();
  }
});

test("an output whose plugin never reads its stdin never slows ingest", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const d = await serve(store, `[[output]]\nname = "dead"\ntype = "exec"\ncommand = "exec sleep 600"\n`);
  try {
    // far more than a pipe and the runner's window hold: 40,000 records of about 200 bytes
    const big = lines(1, 40_000).replace(/\n/g, ` ${"y".repeat(190)}\n`);
    const started = Date.now();
    const r = await ingest(store, "lines", big, env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - started < 30_000, "ingest finished in time");
    const stored = (await readAll(store, "vm1", "test")).filter((x) => x.kind === ".");
    assert.equal(stored.length, 40_000);
    const state = JSON.parse(readFileSync(join(store, "run/outputs.json"), "utf8"));
    assert.equal(state.outputs[0].name, "dead");
  } finally {
    await d.stop();
  }
});

test("ls and the web UI show each output's position, lag, restarts and last error", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const out = join(writable(dir), "out");
  const d = await serve(
    store,
    `[[output]]\nname = "live"\ntype = "exec"\nacks = true\ncommand = "${process.execPath} ${PLUGIN} ${out} --ack"\n` +
      `[[output]]\nname = "broken"\ntype = "exec"\ncommand = "echo cannot start >&2; exit 3"\n`,
  );
  try {
    assert.equal((await ingest(store, "lines", lines(1, 100), env)).code, 0);
    await until("the live output caught up", () => seqs(out).size === 100);
    const ls = async (...args: string[]) => {
      const r = await logward(["ls", "--store", store, ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.toString();
    };
    const lastSeq = (JSON.parse(await ls("--json")) as { stream: string; last_seq: number }[]).find(
      (s) => s.stream === "test",
    )!.last_seq;
    type Row = {
      name: string;
      lag_records: number;
      restarts: number;
      last_error: string | null;
      position: number;
    };
    let rows: Row[] = [];
    await until(
      "the state file has both outputs as they are",
      async () => {
        rows = JSON.parse(await ls("--outputs", "--json")) as Row[];
        const live = rows.find((r) => r.name === "live");
        const broken = rows.find((r) => r.name === "broken");
        return live?.lag_records === 0 && (broken?.restarts ?? 0) >= 1 && broken?.lag_records === lastSeq;
      },
      { ms: 20_000, everyMs: 500 },
    );
    const broken = rows.find((r) => r.name === "broken")!;
    assert.match(broken.last_error!, /exited with status 3/);
    assert.equal(rows.find((r) => r.name === "live")!.position, lastSeq);
    const table = await ls();
    assert.match(table, /^OUTPUT\s+TYPE\s+STATUS/m);
    assert.match(table, /^broken\s+exec\s+(retrying|running)\s/m);
    assert.match(d.out(), /output broken: stderr: cannot start/);
    // the web UI's origins table carries the same rows
    const login = uiLogin(store);
    const base = new URL(login);
    const cookie = (await fetch(login, { redirect: "manual" })).headers.get("set-cookie")!.split(";")[0]!;
    const api = (await (await fetch(new URL("/api/origins", base), { headers: { cookie } })).json()) as {
      outputs: Row[];
    };
    assert.deepEqual(api.outputs.map((o) => o.name).sort(), ["broken", "live"]);
  } finally {
    await d.stop();
  }
});
