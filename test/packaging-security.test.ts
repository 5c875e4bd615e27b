// The shipped systemd units' sandboxes (issue 21, "Least privilege"), checked the way CI does
// with systemd 252: `systemd-analyze security --offline=yes` (the exposure score: at most 2.0
// for every unit, the collector's goal) and `systemd-analyze verify` (no warning). Both run on
// a copy whose /usr/bin/logward is this checkout's bin/logward, since verify checks that every
// command exists; a template unit is checked as one of its instances.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "./helpers/tmp.ts";

const QUBES = join(import.meta.dirname, "../packaging/qubes");
const CHECKOUT_BIN = join(import.meta.dirname, "../bin/logward");
const MAX_EXPOSURE = 2.0;

const UNITS = [
  join(QUBES, "logvm/systemd/logward.service"),
  ...readdirSync(join(QUBES, "sender/systemd")).map((f) => join(QUBES, "sender/systemd", f)),
].filter((f) => f.endsWith(".service"));

const haveAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const NO_ANALYZE =
  "systemd-analyze is missing (Debian's systemd package has it), so the units' sandboxes are not checked here";

/** A copy of `unit` runnable by systemd-analyze: the checkout's logward, an instance name. */
function unitCopy(unit: string): string {
  const name = unit.split("/").at(-1)!.replace("@.service", "@app.service");
  const file = join(tempDir(), name);
  writeFileSync(
    file,
    readFileSync(unit, "utf8").replace(/^ExecStart=\/usr\/bin\/logward /m, `ExecStart=${CHECKOUT_BIN} `),
  );
  return file;
}

test("every shipped unit: systemd-analyze security scores an exposure of at most 2.0", (t) => {
  if (!haveAnalyze) return t.skip(NO_ANALYZE);
  assert.ok(UNITS.length >= 4, UNITS.join(" "));
  for (const unit of UNITS) {
    const r = spawnSync("systemd-analyze", ["security", "--offline=yes", unitCopy(unit)], {
      encoding: "utf8",
    });
    const score = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1];
    assert.ok(score, `${unit}: no score in ${r.stdout}${r.stderr}`);
    t.diagnostic(`${unit.slice(QUBES.length + 1)}: exposure ${score}`);
    assert.ok(Number(score) <= MAX_EXPOSURE, `${unit}: exposure ${score} > ${MAX_EXPOSURE}\n${r.stdout}`);
    // what the score rests on, so a lost line fails by name
    for (const setting of ["NoNewPrivileges=", "ProtectSystem=", "SystemCallFilter=~@privileged"])
      assert.match(
        r.stdout,
        new RegExp(`✓ ${setting.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
        `${unit}: ${setting}`,
      );
  }
});

test("the collector runs as logward with no capabilities, writing only its store", () => {
  const unit = readFileSync(UNITS[0]!, "utf8");
  for (const line of [
    "User=logward",
    "CapabilityBoundingSet=",
    "ProtectSystem=strict",
    "ReadWritePaths=/var/lib/logward",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectHome=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter=@system-service",
    "SystemCallErrorNumber=EPERM",
    "MemoryMax=1G",
  ])
    assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"), line);
});

test("every shipped unit: systemd-analyze verify has nothing to say", (t) => {
  if (!haveAnalyze) return t.skip(NO_ANALYZE);
  for (const unit of UNITS) {
    const r = spawnSync("systemd-analyze", ["verify", unitCopy(unit)], { encoding: "utf8" });
    assert.equal(r.status, 0, `${unit}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), "", unit);
  }
});
