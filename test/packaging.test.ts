import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { defaultConfig } from "../src/config/defaults.ts";
import { loadConfig } from "../src/config/load.ts";
import { chooseViewer } from "../src/query/open.ts";
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
  assert.ok(names.includes("logward.Blob"), "logward.Blob: one call, one opaque object");
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

// dom0's policy as qrexec evaluates it (qubes-core-qrexec b2822df6, qrexec/policy/parser.py):
// files in name order, the first line whose service, argument, source and target all match
// wins (Policy.find_matching_rule, l. 1846-1852; Rule.is_match compares the rule's target
// column with the target the caller asked for, l. 1564-1575); allow's target= redirects the
// call (ActionType.actual_target, l. 1085-1096); a call that resolves to its own source is
// refused, "loopback qrexec connection not supported" (AllowResolution.execute, l. 783-784);
// no matching line: denied. Only the forms these files use are modelled (names, @anyvm, *,
// +argument).
type Rule = {
  file: string;
  line: string;
  service: string;
  arg: string;
  source: string;
  target: string;
  action: string;
  redirect?: string;
};

function policyRules(files: string[]): Rule[] {
  return files.flatMap((file) =>
    readFileSync(join(QUBES, "dom0", file), "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.trim().startsWith("#"))
      .map((line) => {
        const [service, arg, source, target, action, ...params] = line.trim().split(/\s+/);
        assert.ok(service && arg && source && target && action, line);
        assert.ok(["allow", "deny"].includes(action), line);
        const rule: Rule = { file, line, service, arg, source, target, action };
        for (const p of params) {
          const m = /^target=(\S+)$/.exec(p);
          assert.ok(m && action === "allow", `${line}: only allow target=... is used`);
          rule.redirect = m[1]!;
        }
        return rule;
      }),
  );
}

const vmMatches = (pattern: string, vm: string) => (pattern === "@anyvm" ? vm !== "dom0" : pattern === vm);

function evaluate(rules: Rule[], call: { service: string; arg: string; source: string; target: string }) {
  const rule = rules.find(
    (r) =>
      (r.service === "*" || r.service === call.service) &&
      (r.arg === "*" || r.arg === `+${call.arg}`) &&
      vmMatches(r.source, call.source) &&
      vmMatches(r.target, call.target),
  );
  if (!rule || rule.action === "deny") return { rule, result: "denied" };
  const target = rule.redirect ?? call.target;
  return { rule, result: target === call.source ? "refused (loopback)" : target };
}

test("the dom0 policy allows every service to the log qube only, and has no line that can never match", () => {
  const rules = policyRules(["50-logward.policy"]);
  for (const service of Object.keys(SERVICES)) {
    assert.equal(evaluate(rules, { service, arg: "app", source: "work", target: "logvm" }).result, "logvm");
    assert.equal(
      evaluate(rules, { service, arg: "app", source: "disp4711", target: "logvm" }).result,
      "logvm",
    );
    assert.equal(
      evaluate(rules, { service, arg: "app", source: "work", target: "personal" }).result,
      "denied",
    );
    assert.equal(
      evaluate(rules, { service, arg: "app", source: "logvm", target: "logvm" }).result,
      "refused (loopback)",
    );
  }
  assert.ok(rules.some((r) => r.service === "logward.Blob"));
  // every line is the first match of some call: a deny line after "@anyvm logvm allow" never is
  const vms = ["work", "logvm", "personal", "disp4711"];
  for (const r of rules) {
    const reachable = vms.some((source) =>
      vms.some((target) => evaluate(rules, { service: r.service, arg: "app", source, target }).rule === r),
    );
    assert.ok(reachable, `never matches: ${r.line}`);
  }
});

test("the routing example redirects the calls senders make (to logvm) with target=, before the default file", () => {
  const routing = policyRules(["40-logward-routing.policy.example"]);
  assert.ok(routing.length > 0);
  for (const r of routing) {
    assert.ok(r.service in SERVICES, r.line);
    assert.ok(r.arg === "*" || /^\+[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(r.arg), r.line);
    assert.equal(r.action, "allow", r.line);
  }
  assert.ok("40-logward-routing.policy" < "50-logward.policy", "read first, so its lines win");
  // installed as 40-logward-routing.policy beside 50-logward.policy
  const rules = [...routing, ...policyRules(["50-logward.policy"])];
  for (const service of Object.keys(SERVICES)) {
    const call = (arg: string, source: string) =>
      evaluate(rules, { service, arg, source, target: "logvm" }).result;
    assert.equal(call("audit", "work"), "audit-logvm", `${service}+audit from work`);
    assert.equal(call("audit", "disp12"), "audit-logvm", `${service}+audit from a disposable`);
    assert.equal(call("app", "vault-dev"), "audit-logvm", `${service}+app from vault-dev`);
    assert.equal(call("app", "work"), "logvm", `${service}+app from work stays`);
    assert.equal(call("audit", "audit-logvm"), "refused (loopback)");
  }
});

test("the systemd unit waits for readiness and never runs as root", () => {
  const unit = readFileSync(join(QUBES, "logvm/systemd/logward.service"), "utf8");
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^NotifyAccess=all$/m);
  assert.match(unit, /^User=logward$/m);
  assert.match(unit, /^ExecStart=\/usr\/bin\/logward serve /m);
});

// systemd-analyze (systemd 252 in CI) on the unit as shipped, with ExecStart pointed at this
// checkout's bin/logward, since verify checks that every command exists.
function unitCopy(): string {
  const dir = tempDir();
  const text = readFileSync(join(QUBES, "logvm/systemd/logward.service"), "utf8");
  assert.match(text, /^ExecStart=\/usr\/bin\/logward /m);
  const file = join(dir, "logward.service");
  writeFileSync(
    file,
    text.replace(/^ExecStart=\/usr\/bin\/logward /m, `ExecStart=${join(QUBES, "../../bin/logward")} `),
  );
  return file;
}

test("systemd-analyze verify accepts the unit without a warning", () => {
  const file = unitCopy();
  const r = spawnSync("systemd-analyze", ["verify", file], { cwd: dirname(file), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), "");
});

test("the unit's sandbox lets the web UI listen on 127.0.0.1, and IP only to loopback (systemd-analyze security)", () => {
  const file = unitCopy();
  const r = spawnSync("systemd-analyze", ["security", "--offline=true", file], {
    cwd: dirname(file),
    encoding: "utf8",
  });
  assert.ok(r.stdout.includes("Overall exposure level"), r.stdout + r.stderr);
  const line = (setting: string) => r.stdout.split("\n").find((l) => l.includes(setting)) ?? "";
  // the UI needs AF_INET (and AF_INET6 for ::1): "✗ ... may allocate Internet sockets"
  assert.match(line("RestrictAddressFamilies=~AF_(INET|INET6)"), /may allocate Internet sockets/);
  assert.match(line("IPAddressDeny="), /only localhost entries/);
  assert.match(line("RestrictAddressFamilies=~AF_PACKET"), /cannot allocate packet sockets/);
  assert.match(line("RestrictAddressFamilies=~AF_NETLINK"), /cannot allocate netlink sockets/);
  assert.match(line("User=/DynamicUser="), /non-root user/);
});

test("the unit makes /rw/bind-dirs/var/lib/logward and refuses to start while the store is not bound (Qubes AppVM)", () => {
  const unit = readFileSync(join(QUBES, "logvm/systemd/logward.service"), "utf8");
  const pre = /^ExecStartPre=\+\/bin\/sh -c '(.*)'$/m.exec(unit)?.[1];
  assert.ok(pre, "ExecStartPre=+/bin/sh -c '...' (run as root, outside the sandbox)");
  const script = pre.replaceAll("$$", "$"); // systemd's escape for a literal $
  // Stand-ins for qubesdb-read, install and mountpoint, logging how they were called.
  const run = (persistence: string | null, bound: boolean) => {
    const dir = tempDir();
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const stub = (name: string, body: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${dir}/calls\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    if (persistence !== null) stub("qubesdb-read", `echo ${persistence}`);
    stub("install", "exit 0");
    stub("mountpoint", bound ? "exit 0" : "exit 1");
    const r = spawnSync("/bin/sh", ["-c", script], {
      env: { PATH: `${bin}:/usr/bin:/bin` },
      encoding: "utf8",
    });
    const calls = existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8") : "";
    return { status: r.status, stderr: r.stderr, calls };
  };
  const appvm = run("rw-only", false);
  assert.equal(appvm.status, 1);
  assert.match(appvm.calls, /^install -d -o logward -g qubes -m 0750 \/rw\/bind-dirs\/var\/lib\/logward$/m);
  assert.match(appvm.calls, /^mountpoint -q \/var\/lib\/logward$/m);
  assert.equal(appvm.stderr.split("\n").filter(Boolean).length, 1, "one sentence");
  assert.match(appvm.stderr, /store would be lost at the next reboot: add binds\+=\( \/var\/lib\/logward \)/);
  assert.equal(run("rw-only", true).status, 0);
  const standalone = run("full", false);
  assert.equal(standalone.status, 0);
  assert.doesNotMatch(standalone.calls, /install|mountpoint/);
  const notQubes = run(null, false);
  assert.equal(notQubes.status, 0);
  assert.equal(notQubes.calls, "");
});

test("the viewer on Qubes is qvm-open-in-dvm --view-only, by default and in the shipped config", () => {
  const dir = tempDir();
  writeFileSync(join(dir, "qvm-open-in-dvm"), "#!/bin/sh\n");
  chmodSync(join(dir, "qvm-open-in-dvm"), 0o755);
  const saved = process.env.PATH;
  process.env.PATH = dir;
  try {
    assert.deepEqual(chooseViewer({}, "lines", { raw: true, terminal: false }), [
      "qvm-open-in-dvm",
      "--view-only",
      "{file}",
    ]);
  } finally {
    process.env.PATH = saved;
  }
  const toml = readFileSync(join(QUBES, "logvm/logward.toml"), "utf8");
  assert.match(toml, /^# default = \["qvm-open-in-dvm", "--view-only", "\{file\}"\]$/m);
  const guide = readFileSync(join(QUBES, "../../docs/qubes.md"), "utf8");
  assert.match(guide, /qvm-prefs logview-dvm netvm ''/);
  assert.match(guide, /qvm-prefs logvm default_dispvm logview-dvm/);
});

test("socket services are links in /usr/local/etc/qubes-rpc (an AppVM keeps it), for every service", () => {
  const text = readFileSync(join(QUBES, "logvm/socket-service/README.md"), "utf8");
  const loop = /for s in ([A-Za-z ]+); do\n\s*sudo ln -sf \/run\/logward\/qrexec\.sock (\S+)\$s\n/.exec(text);
  assert.ok(loop, "the loop that makes the links");
  assert.equal(loop[2], "/usr/local/etc/qubes-rpc/logward.");
  assert.deepEqual(
    loop[1]!
      .trim()
      .split(" ")
      .map((s) => `logward.${s}`)
      .sort(),
    Object.keys(SERVICES).sort(),
  );
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
