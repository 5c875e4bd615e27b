import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { defaultConfig, loadConfig } from "../src/collector/config.ts";
import { SERVICES } from "../src/wire/qrexec.ts";
import { FORMATS } from "../src/wire/relay.ts";
import { tempDir } from "./helpers/tmp.ts";

const QUBES = join(import.meta.dirname, "../packaging/qubes");

test("the shipped config is valid and states the real defaults", () => {
  const file = join(QUBES, "logvm/logward.toml");
  assert.deepEqual(loadConfig("/var/lib/logward", file), defaultConfig("/var/lib/logward"));
  // the commented socket-service line, once uncommented, is valid too
  const text = readFileSync(file, "utf8").replace("# qrexec_sockets", "qrexec_sockets");
  const tmp = join(tempDir(), "logward.toml");
  writeFileSync(tmp, text);
  assert.deepEqual(loadConfig("/var/lib/logward", tmp).qrexecSockets, ["/run/logward/qrexec.sock"]);
});

test("one executable exec service per qrexec service name, each with its format and an rpc-config", () => {
  const dir = join(QUBES, "logvm/qubes-rpc");
  const names = readdirSync(dir).sort();
  assert.deepEqual(names, Object.keys(SERVICES).sort());
  for (const name of names) {
    const script = readFileSync(join(dir, name), "utf8");
    const format = /logward ingest --format (\w+)/.exec(script)?.[1];
    assert.equal(format, SERVICES[name], name);
    assert.ok(FORMATS.includes(format as (typeof FORMATS)[number]));
    assert.ok(script.startsWith("#!/bin/sh\n") && /\nexec /.test(script), `${name} execs logward`);
    assert.ok((statSync(join(dir, name)).mode & 0o111) !== 0, `${name} is executable`);
    const rpc = readFileSync(join(QUBES, "logvm/rpc-config", name), "utf8");
    assert.doesNotMatch(rpc, /^\s*skip-service-descriptor\s*=\s*true/m);
    assert.doesNotMatch(rpc, /^\s*exit-on-client-eof\s*=\s*true/m);
  }
});

test("the dom0 policy allows every service to the log qube only", () => {
  const policy = readFileSync(join(QUBES, "dom0/50-logward.policy"), "utf8");
  const rules = policy
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => l.trim().split(/\s+/));
  for (const service of Object.keys(SERVICES)) {
    assert.ok(
      rules.some((r) => r[0] === service && r[2] === "@anyvm" && r[3] === "logvm" && r[4] === "allow"),
      service,
    );
  }
  assert.ok(rules.every((r) => r.length === 5 && ["allow", "deny"].includes(r[4]!)));
});

test("the systemd unit waits for readiness and never runs as root", () => {
  const unit = readFileSync(join(QUBES, "logvm/systemd/logward.service"), "utf8");
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^NotifyAccess=all$/m);
  assert.match(unit, /^User=logward$/m);
  assert.match(unit, /^ExecStart=\/usr\/bin\/logward serve /m);
});

test("the routing example sends streams to another log qube by argument, before the default file", () => {
  const text = readFileSync(join(QUBES, "dom0/40-logward-routing.policy.example"), "utf8");
  const rules = text
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => l.trim().split(/\s+/));
  assert.ok(rules.length > 0);
  for (const r of rules) {
    assert.equal(r.length, 5, r.join(" "));
    assert.ok(r[0]! in SERVICES, r[0]);
    assert.ok(r[1] === "*" || /^\+[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(r[1]!), r[1]);
    assert.equal(r[4], "allow");
  }
  assert.ok(rules.some((r) => r[1] === "+audit" && r[3] === "audit-logvm"));
  assert.ok("40-logward-routing.policy" < "50-logward.policy", "read first, so its lines win");
});

test("the sender side: the journald sender is POSIX sh, and its units restart it through qrexec", () => {
  const sender = readFileSync(join(QUBES, "sender/bin/logward-journal-sender"), "utf8");
  assert.ok(sender.startsWith("#!/bin/sh\n"));
  assert.ok((statSync(join(QUBES, "sender/bin/logward-journal-sender")).mode & 0o111) !== 0);
  const unit = readFileSync(join(QUBES, "sender/systemd/logward-journal-sender.service"), "utf8");
  assert.match(
    unit,
    /qrexec-client-vm "\$LOGWARD_LOGVM" logward\.Journal\+journal \/usr\/lib\/logward\/logward-journal-sender/,
  );
  assert.match(unit, /^Restart=always$/m);
  const ship = readFileSync(join(QUBES, "sender/systemd/logward-ship@.service"), "utf8");
  assert.match(
    ship,
    /logward ship .*--stream %i .*--via "qrexec-client-vm \$LOGWARD_LOGVM logward\.Agent\+%i"/,
  );
});
