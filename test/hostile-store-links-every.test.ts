// Symbolic links planted in every position of the store's layout (docs/FORMAT.md, "Layout";
// issue 21: "the store refuses symlinks ... a test plants symlinks in every store directory"),
// each pointing at a directory or a file outside the store that holds a secret. serve, show,
// search, ls, export, rm, verify, seal and the web UI's reads run over them: nothing outside
// the store is written, changed or removed, no secret comes out of any command, and each link
// is refused with LW_UNSAFE_PATH's sentence ("symbolic link") or an event that names it.

import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { uiSession } from "./helpers/ui-session.ts";

const SECRET = "SECRET-OUTSIDE";
const SHA = "a".repeat(64);
const SEG = "00000000000000000001.log";
const CONFIG = '[seal]\ninterval = "1s"\n';

/** Every entry under `dir` (files with content, directories, links with targets). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    out[p] = e.isFile() ? readFileSync(p, "latin1") : e.isDirectory() ? "<dir>" : "<other>";
  }
  return out;
}

/** The outside: a file and a directory shaped like a stream, an objects/ and a run/, all secret. */
function makeOutside(dir: string): { file: string; dir: string } {
  const file = join(dir, "secret.txt");
  const sdir = join(dir, "secretdir");
  mkdirSync(sdir, { recursive: true });
  writeFileSync(file, `2025-01-01T00:00:00.000000Z 1 . ${SECRET} file\n`);
  // a record line, an index, a temporary and an object's name: what a reader or recovery would take
  writeFileSync(join(sdir, SEG), `2025-01-01T00:00:00.000000Z 1 . ${SECRET} dir\n`);
  writeFileSync(join(sdir, "index.json"), '{"format":1,"segments":[]}\n');
  writeFileSync(join(sdir, "keep.tmp"), SECRET);
  writeFileSync(join(sdir, `${SHA}.zst`), SECRET);
  writeFileSync(join(sdir, "cursors.json"), SECRET);
  return { file, dir: sdir };
}

function uiGet(base: string, cookie: string, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(`${base}${path}`, { headers: { Cookie: cookie } }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
    }).on("error", reject);
  });
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

const noSecret = (what: string, text: string | Buffer) =>
  assert.ok(!text.toString("latin1").includes(SECRET), `${what} let the outside secret out`);

describe("symbolic links in every directory and file position of the store", () => {
  const base = tempDir("logward-links-");
  const outside = makeOutside(join(base, "outside"));
  const store = join(base, "store");
  const config = join(base, "c.toml");
  const origins = join(store, "origins");
  let before0: Record<string, string>;
  let d: Daemon | undefined;
  let key = "";

  /** origin dir, stream dir, segment, compressed segment, index, objects/, an object, run files */
  const planted: [string, string][] = [];
  const plant = (target: string, path: string) => {
    mkdirSync(join(path, ".."), { recursive: true });
    rmSync(path, { recursive: true, force: true }); // run/policy.json and the like exist already
    symlinkSync(target, path);
    planted.push([path, target]);
  };
  /** A stream directory with a real copy of vm/main's segment, for links beside real files. */
  const realStream = (origin: string) => {
    const dir = join(origins, origin, "main");
    mkdirSync(dir, { recursive: true });
    cpSync(join(origins, "vm", "main", SEG), join(dir, SEG));
    return dir;
  };

  before(async () => {
    writeFileSync(config, CONFIG);
    const init = await logward(["seal", "init", "--store", store, "--config", config]);
    assert.equal(init.code, 0, init.stderr);
    key = init.stdout.toString().trim().split("\n").at(-1)!;
    const first = await serve(store, CONFIG);
    assert.equal((await ingest(store, "lines", "fine one\n", { QREXEC_REMOTE_DOMAIN: "vm" })).code, 0);
    assert.equal(
      (await ingest(store, "blob", "an object's bytes", { QREXEC_REMOTE_DOMAIN: "blobo" })).code,
      0,
    );
    assert.equal(await first.stop(), 0);
    // a stored object replaced by a link to a valid zstd frame of the secret
    const objects = join(origins, "blobo", "main", "objects");
    const stored = readdirSync(objects).find((f) => f.endsWith(".zst"))!;
    writeFileSync(join(base, "outside", "secret.zst"), zstdCompressSync(Buffer.from(SECRET)));
    rmSync(join(objects, stored));
    plant(join(base, "outside", "secret.zst"), join(objects, stored));

    plant(outside.dir, join(origins, "lodir")); // an origin directory
    plant(outside.file, join(origins, "lofile"));
    plant(outside.dir, join(origins, "vm", "lsdir")); // a stream directory
    plant(outside.file, join(origins, "vm", "lsfile"));
    plant(outside.file, join(origins, "seg", "main", SEG)); // the active segment
    plant(outside.file, join(origins, "segz", "main", `${SEG}.zst`)); // a sealed one
    plant(outside.file, join(realStream("idx"), "index.json")); // the index
    plant(outside.dir, join(realStream("obj"), "objects")); // objects/
    plant(outside.file, join(realStream("objf"), "objects", `${SHA}.zst`)); // an object
    plant(outside.file, join(realStream("objt"), "objects", "x.tmp")); // an object being received
    plant(outside.file, join(store, "run", "policy.json"));
    plant(outside.file, join(store, "run", "outputs.json"));
    plant(outside.file, join(store, "run", "ui-url"));
    plant(outside.dir, join(store, "run", "outputs", "o1")); // an output's directory
    before0 = snapshot(join(base, "outside"));
  });
  after(async () => {
    await d?.stop();
  });

  test("serve and the web UI neither write nor read through any planted link", async () => {
    const withOutput = `${CONFIG}[[output]]\nname = "o1"\ntype = "exec"\ncommand = "cat"\n`;
    d = await serve(store, withOutput);
    for (const [origin, stream] of [
      ["lodir", "main"],
      ["lofile", "main"],
      ["vm", "lsdir"],
      ["vm", "lsfile"],
      ["seg", "main"],
      ["segz", "main"],
      ["obj", "main"],
      ["idx", "main"],
    ] as const) {
      const r = await ingest(store, "lines", "INTRUDER\n", {
        QREXEC_REMOTE_DOMAIN: origin,
        QREXEC_SERVICE_ARGUMENT: stream,
      });
      assert.notEqual(r.code, 0, `${origin}/${stream} took records through a link`);
    }
    // beside a planted object or temporary, the real stream goes on (the link is not used)
    for (const origin of ["objf", "objt", "vm"]) {
      const r = await ingest(store, "lines", "fine two\n", { QREXEC_REMOTE_DOMAIN: origin });
      assert.equal(r.code, 0, `${origin}: ${r.stderr} ${d.out()}`);
    }

    const ui = await uiSession(store);
    for (const path of [
      "/api/origins",
      "/api/records?origin=lodir",
      "/api/records?origin=vm&stream=lsdir",
      "/api/records?origin=seg&stream=main",
      "/api/records?origin=segz&stream=main",
      "/api/records?origin=idx&stream=main",
      `/api/search?q=${SECRET}`,
      "/api/export?origin=*",
    ]) {
      const r = await uiGet(ui.base, ui.cookie, path);
      noSecret(
        path,
        path.startsWith("/api/export") && r.status === 200 ? zstdDecompressSync(r.body) : r.body,
      );
    }
    assert.equal(await d.stop(), 0, d.out());
    d = undefined;
    assert.deepEqual(snapshot(join(base, "outside")), before0, "nothing outside the store changed");
    for (const [path, target] of planted)
      if (lstatOrNull(path)?.isSymbolicLink()) assert.equal(readlinkSync(path), target, path);

    const events = (await logward(["show", "_logward/events", "--store", store])).stdout.toString();
    for (const name of [
      "lodir",
      "lofile",
      "vm/lsdir",
      "vm/lsfile",
      "seg/main",
      "segz/main",
      "idx/main",
      "obj/main/objects",
    ])
      assert.match(events, new RegExp(`${name.replaceAll("/", "\\/")}[^\\n]*symbolic link`), name);
  });

  test("show, search, ls, export, rm, verify and seal neither read nor change anything through a link", async () => {
    for (const target of ["lodir", "lofile", "vm/lsdir", "vm/lsfile", "seg/main", "segz/main", "idx/main"]) {
      const r = await logward(["show", target, "--store", store]);
      noSecret(`show ${target}`, r.stdout);
      assert.match(r.stderr, /symbolic link/, `show ${target}: ${r.stderr}`);
    }
    const all = await logward(["show", "vm", "--store", store]);
    noSecret("show", all.stdout);
    assert.match(all.stdout.toString(), /fine two/, all.stderr);

    const s = await logward(["search", SECRET, "--store", store]);
    noSecret("search", s.stdout);
    const ls = await logward(["ls", "--store", store]);
    assert.equal(ls.code, 0, ls.stderr);
    noSecret("ls", ls.stdout);

    const file = join(base, "all.tar.zst");
    const ex = await logward(["export", "-o", file, "--store", store]);
    noSecret("export's messages", ex.stderr);
    if (existsSync(file)) noSecret("the export archive", zstdDecompressSync(readFileSync(file)));
    const got = join(base, "got");
    const obj = await logward(["get", "blobo/main", "2", "-o", got, "--store", store]);
    assert.notEqual(obj.code, 0, obj.stderr);
    assert.match(obj.stderr, /symbolic link/, obj.stderr);
    assert.equal(existsSync(got), false);

    for (const target of ["lodir", "vm/lsdir", "seg/main"]) {
      const r = await logward(["rm", target, "--yes", "--store", store]);
      assert.notEqual(r.code, 0, `rm ${target} went through a link`);
      assert.match(r.stderr, /symbolic link/, `rm ${target}: ${r.stderr}`);
    }
    const v = await logward(["verify", "--store", store, "--key", key]);
    noSecret("verify", v.stdout + v.stderr);
    const seal = await logward(["seal", "init", "--store", store, "--config", config, "--force"]);
    assert.equal(seal.code, 0, seal.stderr);

    assert.deepEqual(snapshot(join(base, "outside")), before0, "nothing outside the store changed");
  });
});

describe("a symbolic link as a root entry of the store: FORMAT, run/, origins/, the lock, the key", () => {
  for (const [entry, kind] of [
    ["FORMAT", "file"],
    ["run", "dir"],
    ["origins", "dir"],
    ["run/writer.lock", "file"],
    ["run/writer.pid", "file"],
    ["run/seal.key", "file"],
  ] as const) {
    test(`${entry} planted as a link to a ${kind} outside: serve refuses to start, readers read nothing`, async () => {
      const base = tempDir("logward-rootlink-");
      const outside = makeOutside(join(base, "outside"));
      const store = join(base, "store");
      const first = await serve(store, CONFIG);
      assert.equal((await ingest(store, "lines", "fine\n", { QREXEC_REMOTE_DOMAIN: "vm" })).code, 0);
      assert.equal(await first.stop(), 0);
      rmSync(join(store, entry), { recursive: true, force: true });
      symlinkSync(kind === "dir" ? outside.dir : outside.file, join(store, entry));
      const before0 = snapshot(join(base, "outside"));

      const started = await serve(store, CONFIG).then(
        async (dd) => ({ code: await dd.stop(), out: dd.out() }),
        (err: Error) => ({ code: -1, out: err.message }),
      );
      assert.notEqual(started.code, 0, `serve ran over ${entry}: ${started.out}`);
      assert.match(started.out, /symbolic link/, started.out);
      noSecret("serve", started.out);
      for (const args of [["show", "vm"], ["search", SECRET], ["ls"]]) {
        const r = await logward([...args, "--store", store]);
        noSecret(args[0]!, r.stdout.toString() + r.stderr);
      }
      assert.deepEqual(snapshot(join(base, "outside")), before0, "nothing outside the store changed");
    });
  }
});
