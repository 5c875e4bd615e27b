import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import { Store } from "../src/store/store.ts";
import { BIN, logward } from "./helpers/cli.ts";
import { tempDir } from "./helpers/tmp.ts";

// Every byte sequence here would do something on a terminal or forge a record if printed raw.
const HOSTILE = [
  "\x1b]0;owned\x07\x1b[2J\x1b[31mred",
  "line one\nline two\r\n2026-01-01T00:00:00.000000Z 9 !gap count=0",
  "\u202eevil\u2066isolate\u2069 \u0085next-line \u009bcsi",
  "\0nul \x7f del \\ backslash \xff",
  "tab\tand bell\x07",
];
const DANGEROUS = /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u;

/** Output that is valid UTF-8 and holds no character a terminal or viewer would act on. */
function assertInert(out: Buffer | string, label: string): string {
  const text = out.toString();
  if (typeof out !== "string") assert.ok(Buffer.from(text, "utf8").equals(out), `${label}: valid UTF-8`);
  assert.doesNotMatch(text.replaceAll("\n", ""), DANGEROUS, label);
  return text;
}

async function hostileStore(): Promise<string> {
  const root = tempDir();
  const store = await Store.open(root, { maxSegmentBytes: 4096 });
  const w = await store.stream("evil", "main");
  const audit = await store.stream("evil", "audit");
  w.appendCollector("open", "session=1 transport=test");
  for (let i = 0; i < 60; i++) {
    w.appendRecords(HOSTILE.map((h) => Buffer.from(`${i} ${h}`, h.includes("\xff") ? "latin1" : "utf8")));
    audit.appendRecords([Buffer.from(`audit ${i}`)]);
  }
  const ok = await store.stream("good", "main");
  ok.appendRecords([Buffer.from("hello world")]);
  await store.idle();
  await store.close();
  return root;
}

describe("logward CLI", () => {
  const rootPromise = hostileStore();

  test("--help, --version and per-command help exit 0", async () => {
    const help = await logward(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout.toString(), /Commands:\n {2}ls .*\n {2}show /);
    const v = await logward(["--version"]);
    assert.match(v.stdout.toString(), /^logward \d+\.\d+\.\d+\n$/);
    for (const cmd of ["ls", "show"]) {
      const r = await logward([cmd, "--help"]);
      assert.equal(r.code, 0);
      assert.match(r.stdout.toString(), new RegExp(`^Usage: logward ${cmd}`));
    }
  });

  test("ls prints a table and --json the documented keys", async () => {
    const root = await rootPromise;
    const table = await logward(["ls", "--store", root]);
    assert.equal(table.code, 0);
    const lines = table.stdout.toString().trim().split("\n");
    assert.match(
      lines[0]!,
      /^ORIGIN\s+STREAM\s+RECORDS\s+BYTES\s+FIRST\s+LAST\s+SEGMENTS\s+STATE\s+QUOTA\s+DROPS$/,
    );
    // no collector has run on this store: the quota state is unknown, not made up
    assert.match(lines[1]!, /\s-\s+-\s+0$/);
    assert.equal(lines.length, 4);
    const json = JSON.parse((await logward(["ls", "--json"], { LOGWARD_STORE: root })).stdout.toString());
    assert.deepEqual(
      json.map((r: { origin: string; stream: string; records: number }) => [r.origin, r.stream, r.records]),
      [
        ["evil", "audit", 60],
        ["evil", "main", 301],
        ["good", "main", 1],
      ],
    );
    for (const key of [
      "origin",
      "stream",
      "records",
      "bytes",
      "first",
      "last",
      "segments",
      "state",
      "quota",
      "drops",
    ])
      assert.ok(key in json[0]);
    assert.equal(json[0].state, null);
  });

  test("hostile content never reaches stdout unescaped, in any mode but --raw", async () => {
    const root = await rootPromise;
    for (const args of [[], ["--json"], ["--grep", "evil"], ["--since", "-1d"]]) {
      for (const target of ["evil/main", "evil"]) {
        const r = await logward(["show", target, "--store", root, ...args]);
        assert.equal(r.code, 0, r.stderr);
        assertInert(r.stdout, `show ${target} ${args.join(" ")}`);
        assert.equal(r.stderr, "");
      }
    }
  });

  test("every reading command keeps hostile records escaped: search, export, open, ls, alerts", async () => {
    const root = await rootPromise;
    const dir = tempDir();
    const seen = join(dir, "seen");
    const viewer = join(dir, "viewer.sh");
    writeFileSync(viewer, `#!/bin/sh\ncat "$1" >> '${seen}'\n`, { mode: 0o755 });
    const config = join(dir, "logward.toml");
    writeFileSync(config, `[viewers]\ndefault = ["${viewer}", "{file}"]\n`);
    const archive = join(dir, "evil.tar.zst");
    const runs: string[][] = [
      ["search", "evil"],
      ["search", "--regex", "."],
      ["search", "--regex", "owned|csi", "--json"],
      ["search", "EVIL", "--ignore-case", "--origin", "e*"],
      ["search", "--count", "i"],
      ["export", "evil", "-o", archive],
      ["verify-export", archive],
      ["open", "evil", "--config", config],
      ["open", "evil/main", "--since", "-1d", "--config", config],
      ["ls"],
      ["ls", "--json"],
      ["alerts"],
      ["alerts", "--json"],
    ];
    const printed = new Map<string, string>();
    for (const args of runs) {
      const r = await logward(args[0] === "verify-export" ? args : [...args, "--store", root]);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      printed.set(args.join(" "), assertInert(r.stdout, args.join(" ")));
      assertInert(r.stderr, `${args.join(" ")} (stderr)`);
    }
    // every hostile record was found, and came out escaped
    const all = printed.get("search --regex .")!;
    assert.equal(all.match(/^evil\/main /gm)?.length, 301);
    assert.match(
      all,
      /^evil\/main \S+ \d+ \. 7 \\u202eevil\\u2066isolate\\u2069 \\u0085next-line \\u009bcsi$/m,
    );
    // what the viewer got: both selections, escaped
    const viewed = assertInert(readFileSync(seen), "the viewer's files");
    assert.equal(viewed.trim().split("\n").length, 361 + 301);
    // the archive's members (NUL is tar's padding, not content)
    const tar = zstdDecompressSync(readFileSync(archive)).toString("utf8");
    assert.match(tar, /\\x1b\]0;owned\\x07\\x1b\[2J/);
    assertInert(tar.replaceAll("\0", ""), "the archive's members");
  });

  test("default output is the stored line; several streams are merged and named", async () => {
    const root = await rootPromise;
    const one = (await logward(["show", "evil/main", "--store", root])).stdout.toString().split("\n");
    assert.match(one[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z 1 !open session=1 transport=test$/);
    assert.match(one[1]!, /^\S+ 2 \. 0 \\x1b\]0;owned\\x07\\x1b\[2J\\x1b\[31mred$/);
    assert.match(
      one[2]!,
      /^\S+ 3 \. 0 line one\\nline two\\r\\n2026-01-01T00:00:00\.000000Z 9 !gap count=0$/,
    );
    const both = (await logward(["show", "evil", "--store", root])).stdout.toString().trim().split("\n");
    assert.equal(both.length, 361);
    assert.ok(both.some((l) => / audit \d+ \. audit 0$/.test(l)));
    assert.ok(both.every((l) => / (main|audit) \d+ /.test(l)));
  });

  test("--raw gives back the original bytes exactly", async () => {
    const root = await rootPromise;
    const r = await logward(["show", "evil/main", "--raw", "--store", root]);
    // the sender's records only: the collector's !open is not part of what was sent
    const want = Buffer.concat([
      ...Array.from({ length: 60 }, (_, i) =>
        Buffer.concat(
          HOSTILE.map((h) =>
            Buffer.concat([
              Buffer.from(`${i} ${h}`, h.includes("\xff") ? "latin1" : "utf8"),
              Buffer.from("\n"),
            ]),
          ),
        ),
      ),
    ]);
    assert.ok(r.stdout.equals(want));
  });

  test("--json: one object per record with time, seq, kind, payload", async () => {
    const root = await rootPromise;
    const r = await logward(["show", "evil/main", "--json", "--store", root]);
    const objs = r.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(objs.length, 301);
    assert.deepEqual(Object.keys(objs[1]), ["origin", "stream", "time", "seq", "kind", "payload"]);
    assert.equal(objs[0].kind, "open");
    assert.equal(objs[1].kind, "data");
    assert.equal(objs[1].payload, "0 \\x1b]0;owned\\x07\\x1b[2J\\x1b[31mred");
  });

  test("--grep, --since and --until select records", async () => {
    const root = await rootPromise;
    const g = await logward(["show", "evil/main", "--grep", "^4[0-9] tab", "--store", root]);
    assert.equal(g.stdout.toString().trim().split("\n").length, 10);
    const future = await logward(["show", "evil/main", "--since", "now", "--store", root]);
    assert.equal(future.stdout.length, 0);
    const past = await logward(["show", "evil/main", "--until", "2000-01-01", "--store", root]);
    assert.equal(past.stdout.length, 0);
    const all = await logward([
      "show",
      "evil/main",
      "--since",
      "2000-01-01T00:00:00Z",
      "--until",
      "now",
      "--store",
      root,
    ]);
    assert.equal(all.stdout.toString().trim().split("\n").length, 301);
  });

  test("user errors: one sentence on stderr, a non-zero exit, nothing on stdout", async () => {
    const root = await rootPromise;
    const cases: [string[], number, RegExp][] = [
      [["frobnicate"], 2, /^logward: Unknown command 'frobnicate'; run 'logward --help'/],
      [["show"], 2, /takes 1 argument, not 0/],
      [
        ["show", "evil", "--bogus", "--store", root],
        2,
        /Unknown option '--bogus'; see 'logward show --help'/,
      ],
      [["show", "../../etc", "--store", root], 2, /Invalid origin name/],
      [["show", "evil/a\nb", "--store", root], 2, /Invalid stream name "a\\nb"/],
      [["show", "nobody", "--store", root], 1, /There is no origin 'nobody' in the store/],
      [["show", "evil", "--since", "yesterday", "--store", root], 2, /--since 'yesterday' is not a time/],
      [["show", "evil", "--grep", "(", "--store", root], 2, /--grep '\(' is not a valid regular expression/],
      [["show", "evil", "--raw", "--json", "--store", root], 2, /--raw and --json cannot be used together/],
      [["ls", "--store", join(root, "nope")], 1, /is not a logward store/],
    ];
    for (const [args, code, message] of cases) {
      const r = await logward(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout.length, 0);
    }
  });

  test("a second writer process is refused while the first runs; kill -9 frees the lock", async () => {
    const root = tempDir();
    mkdirSync(root, { recursive: true });
    const holder = spawn(process.execPath, [join(import.meta.dirname, "fixtures/writer.ts"), root], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    await assert.rejects(Store.open(root), (e: Error) => {
      assert.match(
        e.message,
        new RegExp(`Another logward process \\(process ${holder.pid}\\) is already writing`),
      );
      return true;
    });
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    const store = await Store.open(root);
    await store.close();
  });
});

describe("logward show --follow", () => {
  test("prints new records as they are written, across rotation, with no gap or repeat", async () => {
    const root = tempDir();
    const store = await Store.open(root, { maxSegmentBytes: 4096 });
    const w = await store.stream("live", "main");
    for (let i = 0; i < 30; i++) w.appendRecords([Buffer.from(`old ${i}`)]);
    await store.idle();
    const child = spawn(process.execPath, [BIN, "show", "live/main", "--follow", "--store", root], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const seen = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got:\n${out}`)), 15_000);
        const check = () => {
          if (out.split("\n").filter(Boolean).length >= n) {
            clearTimeout(timer);
            child.stdout.off("data", check);
            resolve();
          }
        };
        child.stdout.on("data", check);
        check();
      });
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await seen(10); // without --since: the last 10 records, like tail -f
      for (let i = 0; i < 200; i++) {
        w.appendRecords([Buffer.from(`new ${i} \x1b[31m ${"z".repeat(i % 30)}`)]);
        if (i % 20 === 0) await store.idle();
      }
      await store.idle();
      await seen(210);
    } finally {
      child.kill("SIGTERM");
      await store.close();
    }
    const code = await exited;
    assert.equal(code, 0);
    const lines = out.trim().split("\n");
    const seqs = lines.map((l) => Number(l.split(" ")[1]));
    assert.deepEqual(
      seqs,
      Array.from({ length: 210 }, (_, i) => 21 + i),
    );
    assert.match(lines.at(-1)!, / \. new 199 \\x1b\[31m /);
    assert.doesNotMatch(out, /\x1b/);
  });
});
