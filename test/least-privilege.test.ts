// Least privilege (issue 21): `serve` refuses root without --allow-root, runs as an
// unprivileged user on a store that user owns, and creates every file and directory of a store
// with the mode it chooses (0640/0600, 0750), not the umask's; under Node's permission model
// (LOGWARD_NODE_PERMISSION=1) it writes nowhere but its store.
import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { test } from "node:test";
import { BIN, logward } from "./helpers/cli.ts";
import { ALLOW_ROOT, ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Gathers a child's stdout and stderr into one text, read by `out()`, and its exit code. */
function collect(proc: ChildProcessByStdio<null | Writable, Readable, Readable>): {
  out: () => string;
  exited: Promise<number | null>;
} {
  let out = "";
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { out: () => out, exited };
}

test("serve as root without --allow-root refuses, in one sentence saying why and what to do", async (t) => {
  if (!asRoot) return t.skip("this test runs as root only (CI does); as another user serve starts");
  const store = join(tempDir(), "store");
  const r = await logward(["serve", "--store", store], { LOGWARD_UI_PORT: "off" });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /refuses to run as root/);
  assert.match(r.stderr, /'logward' user/);
  assert.match(r.stderr, /--allow-root/);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.equal(existsSync(join(store, "run", "ingest.sock")), false, "nothing listens");
});

test("serve run as an unprivileged user (nobody) on a store it owns collects", async (t) => {
  if (!asRoot) return t.skip("starting serve as another user needs root");
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const store = join(dir, "store");
  mkdirSync(store, { mode: 0o750 });
  chownSync(store, NOBODY, NOBODY);
  const proc = spawn(process.execPath, [BIN, "serve", "--store", store], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, LOGWARD_UI_PORT: "0", HOME: "/nonexistent" },
  });
  const { out, exited } = collect(proc);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out()}`)), 15_000);
    proc.stdout.on("data", () => {
      if (/ready/.test(out())) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${out()}`)));
  });
  const r = await ingest(store, "lines", "as nobody\n", {
    QREXEC_REMOTE_DOMAIN: "work",
    QREXEC_SERVICE_ARGUMENT: "main",
  });
  assert.equal(r.code, 0, r.stderr);
  proc.kill("SIGTERM");
  assert.equal(await exited, 0, out());
  const show = await logward(["show", "--store", store, "work/main"]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout.toString(), /as nobody/);
});

/** Runs `logward ARGS` with umask 000, so that only logward's own modes restrict what it creates. */
function permissive(args: string[], env: NodeJS.ProcessEnv = {}) {
  const proc = spawn("sh", ["-c", 'umask 000 && exec "$0" "$@"', process.execPath, BIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, LOGWARD_STORE: "", LOGWARD_UI_PORT: "0", ...env },
  });
  const { out, exited } = collect(proc);
  return { proc, out, exited };
}

/** Every entry under `dir` with its permission bits, as "0640 run/policy.json". */
function modes(dir: string, under = ""): string[] {
  return readdirSync(join(dir, under)).flatMap((name) => {
    const rel = under ? `${under}/${name}` : name;
    const st = lstatSync(join(dir, rel));
    const line = `${(st.mode & 0o7777).toString(8).padStart(4, "0")} ${rel}`;
    if (st.isSocket()) return [];
    return st.isDirectory() ? [line, ...modes(dir, rel)] : [line];
  });
}

test("under umask 000, a store after a session, a blob, compression, an export and seals has 0640/0600 files and 0750 directories", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const config = join(dir, "c.toml");
  writeFileSync(config, '[seal]\ninterval = "1s"\n[store]\nsegment_size = "64KiB"\n');
  const init = permissive(["seal", "init", "--store", store, "--config", config]);
  init.proc.stdin.end();
  assert.equal(await init.exited, 0, init.out());
  const d = permissive(["serve", "--store", store, "--config", config, ...ALLOW_ROOT]);
  d.proc.stdin.end();
  await new Promise<void>((resolve, reject) => {
    d.proc.stdout.on("data", () => /ready/.test(d.out()) && resolve());
    void d.exited.then((c) => reject(new Error(`serve exited with ${c}: ${d.out()}`)));
  });
  const env = { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "main" };
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${"x".repeat(40)}`).join("\n");
  assert.equal((await ingest(store, "lines", `${lines}\n`, env)).code, 0);
  const blob = await ingest(store, "blob", "an object", { ...env, QREXEC_SERVICE_ARGUMENT: "files" });
  assert.equal(blob.code, 0, blob.stderr);
  await new Promise((r) => setTimeout(r, 1500)); // a seal interval, and the segment compressed
  d.proc.kill("SIGTERM");
  assert.equal(await d.exited, 0, d.out());
  const archive = join(dir, "out.tar.zst");
  const e = permissive(["export", "work", "-o", archive, "--store", store]);
  e.proc.stdin.end();
  assert.equal(await e.exited, 0, e.out());

  const all = modes(store);
  const paths = all.map((l) => l.slice(5));
  for (const expected of ["FORMAT", "run/seal.key", "run/ui-url", "run/writer.lock", "run/writer.pid"])
    assert.ok(paths.includes(expected), `${expected} in ${paths.join(" ")}`);
  assert.ok(
    paths.some((p) => /^origins\/work\/main\/\d+\.log\.zst$/.test(p)),
    "a compressed segment",
  );
  assert.ok(
    paths.some((p) => /^origins\/work\/files\/objects\/[0-9a-f]{64}\.zst$/.test(p)),
    "an object",
  );
  const SECRET = new Set(["run/seal.key", "run/ui-url"]);
  const wrong = all.filter((line) => {
    const [mode, path] = [line.slice(0, 4), line.slice(5)];
    const st = lstatSync(join(store, path));
    if (st.isDirectory()) return mode !== "0750";
    return mode !== (SECRET.has(path) ? "0600" : "0640");
  });
  assert.deepEqual(wrong, [], all.join("\n"));
  assert.equal((lstatSync(archive).mode & 0o777).toString(8), "640", "the export archive");
});

test("a stream directory or active segment another user owns is neither written nor read", async (t) => {
  if (!asRoot) return t.skip("planting another user's files needs root");
  const store = join(tempDir(), "store");
  const env = (origin: string, stream: string) => ({
    QREXEC_REMOTE_DOMAIN: origin,
    QREXEC_SERVICE_ARGUMENT: stream,
  });
  let d = await serve(store);
  assert.equal((await ingest(store, "lines", "mine\n", env("work", "seg"))).code, 0);
  await d.stop();
  // nobody's stream directory, and nobody's active segment in a stream of the store's owner
  const planted = join(store, "origins", "work", "planted");
  mkdirSync(planted, { mode: 0o777 });
  chownSync(planted, NOBODY, NOBODY);
  const segDir = join(store, "origins", "work", "seg");
  const segment = join(segDir, readdirSync(segDir).find((f) => f.endsWith(".log"))!);
  chownSync(segment, NOBODY, NOBODY);
  d = await serve(store);
  try {
    for (const stream of ["planted", "seg"]) {
      const r = await ingest(store, "lines", "into it\n", env("work", stream));
      assert.notEqual(r.code, 0, `${stream}: ${r.stderr}`);
    }
    assert.deepEqual(readdirSync(planted), [], "nothing written into nobody's directory");
    const events = await logward(["show", "--store", store, "_logward/events"]);
    assert.match(events.stdout.toString(), /belongs to another user \(uid 65534\)/);
    assert.equal((await ingest(store, "lines", "still fine\n", env("work", "main"))).code, 0, "others go on");
  } finally {
    await d.stop();
  }
  const ls = await logward(["ls", "--store", store]);
  assert.equal(ls.code, 0, ls.stderr);
  assert.doesNotMatch(ls.stdout.toString(), /planted/);
  assert.match(ls.stderr, /planted in the store is .*another user's; it was not followed/);
  const show = await logward(["show", "--store", store, "work/planted"]);
  assert.notEqual(show.code, 0);
  assert.match(show.stderr, /belongs to another user \(uid 65534\), neither root nor the store's owner/);
});

test("LOGWARD_NODE_PERMISSION=1: serve collects, and a write outside the store is refused at run time", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const outside = join(dir, "outside.txt");
  // what a compromised collector would do: write outside the store, once serve is running
  const probe = join(dir, "probe.mjs");
  writeFileSync(
    probe,
    `import { writeFileSync } from "node:fs";
if (process.permission && process.argv[2] === "serve")
  setTimeout(() => {
    let result = "written";
    try { writeFileSync(${JSON.stringify(outside)}, "escaped"); } catch (err) { result = err.code; }
    process.stderr.write("probe: outside " + result + ", inside " + process.permission.has("fs.write", ${JSON.stringify(join(store, "origins"))}) + "\\n");
  }, 500);
`,
  );
  const d = await serve(store, undefined, {
    LOGWARD_NODE_PERMISSION: "1",
    NODE_OPTIONS: `--import=${probe}`,
  });
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "main" };
    assert.equal((await ingest(store, "lines", "under the model\n", env)).code, 0);
    await until("the probe", () => /probe: /.test(d.out()));
    assert.match(d.out(), /probe: outside ERR_ACCESS_DENIED, inside true/);
    assert.equal(existsSync(outside), false);
  } finally {
    assert.equal(await d.stop(), 0, d.out());
  }
  const show = await logward(["show", "--store", store, "work/main"]);
  assert.match(show.stdout.toString(), /under the model/);
});

test("show, search, ls and verify run under Node's permission model by default: a write outside is refused", async () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const d = await serve(store);
  const env = { QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: "main" };
  assert.equal((await ingest(store, "lines", "read under the model\n", env)).code, 0);
  assert.equal(await d.stop(), 0);
  // what a flaw reached through hostile store content would do: write a file outside
  const outside = join(dir, "outside.txt");
  const probe = join(dir, "probe.mjs");
  writeFileSync(
    probe,
    `import { rmSync, writeFileSync } from "node:fs";
let result = "written";
try { writeFileSync(${JSON.stringify(outside)}, "escaped"); rmSync(${JSON.stringify(outside)}); } catch (err) { result = err.code; }
process.stderr.write("probe: " + result + "\\n");
`,
  );
  // the installed command: bin/logward, the launcher npm links (the tests' helper runs logward.js)
  const launcher = join(import.meta.dirname, "..", "bin", "logward");
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const proc = spawn(launcher, [...args, "--store", store], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: `--import=${probe}`, ...extra },
    });
    const c = collect(proc);
    return c.exited.then((code) => ({ code, out: c.out() }));
  };
  for (const args of [["show", "work/main"], ["search", "model"], ["ls"], ["verify", "--key", "LWK1-x"]]) {
    const r = await run(args);
    assert.match(r.out, /probe: ERR_ACCESS_DENIED/, `${args[0]}: ${r.out}`);
    if (args[0] !== "verify") assert.equal(r.code, 0, r.out);
    if (args[0] !== "ls") assert.doesNotMatch(r.out, /SecurityWarning|ERR_ACCESS_DENIED: /, r.out);
  }
  assert.match((await run(["show", "work/main"])).out, /read under the model/);
  assert.match((await run(["search", "model"])).out, /work\/main .* read under the model/);
  // the escape hatch, and a command that is not a reader (export writes its archive)
  assert.match((await run(["show", "work/main"], { LOGWARD_NODE_PERMISSION: "0" })).out, /probe: written/);
  assert.match((await run(["export", "-o", join(dir, "e.tar.zst")])).out, /probe: written/);
  assert.equal(existsSync(outside), false);
});
