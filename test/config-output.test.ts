// [[output]] tables and `include` drop-ins (config/output.ts, config/include.ts): drop-ins are
// merged in name order and checked with the main file as one; every problem names its table and
// the drop-in it is in; and which streams a `match` selects (output/runner.ts).

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { loadConfig } from "../src/config/load.ts";
import { outputMatcher } from "../src/output/runner.ts";
import { tempDir } from "./helpers/tmp.ts";

function problems(f: () => unknown): string {
  try {
    f();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
}

test("include merges drop-ins in name order: outputs appended, tables merged key by key", () => {
  const dir = tempDir();
  mkdirSync(join(dir, "conf.d"));
  const main = join(dir, "logward.toml");
  writeFileSync(
    main,
    `include = "conf.d/*.toml"\n[collector]\nmax_sessions = 10\n[[output]]\nname = "first"\ntype = "exec"\ncommand = "cat"\n`,
  );
  writeFileSync(
    join(dir, "conf.d", "20-b.toml"),
    `[[output]]\nname = "third"\ntype = "exec"\ncommand = "cat"\nstart = "newest"\n`,
  );
  writeFileSync(
    join(dir, "conf.d", "10-a.toml"),
    `[collector]\nmax_sessions = 20\n[[output]]\nname = "second"\ntype = "exec"\ncommand = "cat"\nmatch = "vm*/syslog"\nuser = "logward-out"\nacks = true\n`,
  );
  writeFileSync(join(dir, "conf.d", "30-c.conf"), "not toml, not matched");
  const c = loadConfig("/store", main);
  assert.deepEqual(
    c.outputs.map((o) => o.name),
    ["first", "second", "third"],
  );
  assert.equal(c.maxSessions, 20, "a later file overrides a key");
  const second = c.outputs[1]!;
  assert.deepEqual(
    [second.match, second.start, second.options.user, second.options.acks, second.file],
    ["vm*/syslog", "oldest", "logward-out", true, join(dir, "conf.d", "10-a.toml")],
  );
  assert.equal(c.outputs[0]!.options.user, "nobody");
  assert.equal(c.outputs[2]!.start, "newest");
});

test("a directory of drop-ins that does not exist holds none", () => {
  const dir = tempDir();
  const main = join(dir, "logward.toml");
  writeFileSync(main, `include = "/nonexistent/logward/conf.d/*.toml"\n`);
  assert.deepEqual(loadConfig("/store", main).outputs, []);
});

test("every problem of the main file and its drop-ins is listed, naming the drop-in", () => {
  const dir = tempDir();
  mkdirSync(join(dir, "conf.d"));
  const main = join(dir, "logward.toml");
  writeFileSync(
    main,
    `include = "${dir}/conf.d/*.toml"\n[[output]]\nname = "a"\ntype = "exec"\ncommand = "cat"\n`,
  );
  const bad = join(dir, "conf.d", "50-bad.toml");
  writeFileSync(
    bad,
    [
      `include = "/etc/other/*.toml"`,
      `[[output]]\nname = "a"\ntype = "exec"\ncommand = "cat"`,
      `[[output]]\nname = "b"\ntype = "exec"`,
      `[[output]]\nname = "c"\ntype = "exec"\ncommand = "x"\nuser = "root"\nacks = "yes"`,
      `[[output]]\nname = "d"\ntype = "telepathy"`,
      `[[output]]\nname = "e"\ntype = "exec"\ncommand = "x"\nmatch = "a/b/c"\nstart = "middle"\nbogus = 1`,
      `[[output]]\nname = "../f"\ntype = "exec"\ncommand = "x"`,
    ].join("\n"),
  );
  writeFileSync(join(dir, "conf.d", "60-broken.toml"), "[[output]\n");
  const m = problems(() => loadConfig("/store", main));
  for (const want of [
    `the drop-in ${bad} has include; only the main file may include others`,
    `output a (in ${bad}): name a is used by another [[output]]`,
    `output b (in ${bad}): command must be a command line for sh`,
    `output c (in ${bad}): user must be a user name other than root`,
    `output c (in ${bad}): acks must be true or false, not "yes"`,
    `output d (in ${bad}): type must be "exec", "logward", "syslog" or "nats", not "telepathy"`,
    `output e (in ${bad}): match must be an origin glob`,
    `output e (in ${bad}): start must be "oldest" or "newest", not "middle"`,
    `output e (in ${bad}): bogus is not a known setting`,
    `(in ${bad}): name must be a name of 1 to 64 letters`,
    `the drop-in ${join(dir, "conf.d", "60-broken.toml")} cannot be read`,
  ])
    assert.ok(m.includes(want), `${want}\nin: ${m}`);
  assert.match(m, /^The configuration .*logward\.toml has \d+ problem\(s\): /);
});

test("an [[output]] key of another type is refused; [output] as a plain table too", () => {
  const dir = tempDir();
  const main = join(dir, "logward.toml");
  writeFileSync(main, `[[output]]\nname = "n"\ntype = "nats"\nacks = true\n`);
  assert.match(
    problems(() => loadConfig("/store", main)),
    /output n: acks does not apply to type = "nats"/,
  );
  writeFileSync(main, `[output]\nname = "n"\n`);
  assert.match(
    problems(() => loadConfig("/store", main)),
    /output must be an array of tables: \[\[output\]\]/,
  );
});

test("match selects origins, optionally streams; _logward only when the glob names it", () => {
  const ref = (origin: string, stream: string) => ({ origin, stream });
  const all = outputMatcher("*");
  assert.ok(all(ref("vm1", "syslog")));
  assert.ok(!all(ref("_logward", "events")), "* is what senders sent");
  const vms = outputMatcher("vm*/sys*");
  assert.ok(vms(ref("vm12", "syslog")));
  assert.ok(!vms(ref("vm12", "journal")));
  assert.ok(!vms(ref("work", "syslog")));
  assert.ok(outputMatcher("_logward/alerts")(ref("_logward", "alerts")));
  assert.ok(!outputMatcher("_logward/alerts")(ref("_logward", "events")));
  assert.ok(outputMatcher("_*")(ref("_logward", "events")));
});
