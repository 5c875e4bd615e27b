// `npm run test:hostile` (issue 21, "The suite"): runs the test files of the hostile cases
// registered in test/hostile/cases.ts under node:test, then prints every case by class with
// its result and what it is modelled on. It fails when node:test fails, when a registered case
// did not run or failed, or when fewer than MIN_CASES cases ran.
//
// `--all` runs every test file instead (what `npm run test:unit` does), so that `npm test`
// prints the table from the run it makes anyway instead of running the hostile files twice.

import { spawn } from "node:child_process";
import { globSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import {
  CASES,
  classOfFault,
  EXTRA_FILE_PATTERN,
  FAULT_PREFIX,
  HOSTILE_CLASSES,
  type HostileCase,
  type HostileClass,
} from "../test/hostile/cases.ts";

const MIN_CASES = 200;
const ROOT = join(import.meta.dirname, "..");
const TEST_DIR = join(ROOT, "test");
const REPORTER = join(TEST_DIR, "hostile", "collect-reporter.ts");

interface Ran {
  file: string;
  name: string;
  ok: boolean;
  skip: boolean;
  kind: string;
  error?: string;
}

/** The files the hostile suite runs: those of the cases, hostile-* and fault-* files. */
export function suiteFiles(): string[] {
  const files = new Set(CASES.map((c) => c.file));
  for (const f of readdirSync(TEST_DIR)) {
    if (EXTRA_FILE_PATTERN.test(f) || /^hostile-.*\.test\.ts$/.test(f)) files.add(f);
  }
  return [...files].sort().map((f) => join("test", f));
}

function runTests(files: string[], out: string): Promise<number> {
  const args = [
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    `--test-reporter=${REPORTER}`,
    `--test-reporter-destination=${out}`,
    ...files,
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

type Status = "pass" | "FAIL" | "skip" | "MISSING";

interface Row {
  cls: HostileClass;
  status: Status;
  file: string;
  name: string;
  cite?: string;
  error?: string;
}

/** Matches what ran against the registry; tests named "fault: ..." join as their own rows. */
export function tabulate(ran: Ran[]): Row[] {
  const byKey = new Map<string, Ran>();
  for (const r of ran) if (r.kind !== "suite") byKey.set(`${r.file}\0${r.name}`, r);
  const rows: Row[] = [];
  const listed = new Set<string>();
  for (const c of CASES) {
    const key = `${c.file}\0${c.name}`;
    listed.add(key);
    rows.push(rowOf(c, byKey.get(key)));
  }
  for (const [key, r] of byKey) {
    if (listed.has(key) || !r.name.startsWith(FAULT_PREFIX)) continue;
    rows.push(rowOf({ cls: classOfFault(r.name), file: r.file, name: r.name }, r));
  }
  return rows;
}

function rowOf(c: HostileCase, r: Ran | undefined): Row {
  const status: Status = !r ? "MISSING" : r.skip ? "skip" : r.ok ? "pass" : "FAIL";
  return { cls: c.cls, status, file: c.file, name: c.name, cite: c.cite, error: r?.error };
}

function printTable(rows: Row[]): void {
  const lines: string[] = ["", "Hostile cases (issue 21), by class", ""];
  for (const cls of HOSTILE_CLASSES) {
    const of = rows.filter((r) => r.cls === cls);
    const passed = of.filter((r) => r.status === "pass").length;
    lines.push(`${cls} (${passed}/${of.length} pass)`);
    for (const r of of) {
      lines.push(`  ${r.status.padEnd(7)} ${r.file.replace(/\.test\.ts$/, "")}: ${r.name}`);
      if (r.cite) lines.push(`          modelled on: ${r.cite}`);
      if (r.error) lines.push(`          error: ${r.error.replace(/[\0-\x1f\x7f]/g, " ")}`);
    }
    lines.push("");
  }
  lines.push("| class | cases | pass |", "|---|---:|---:|");
  for (const cls of HOSTILE_CLASSES) {
    const of = rows.filter((r) => r.cls === cls);
    lines.push(`| ${cls} | ${of.length} | ${of.filter((r) => r.status === "pass").length} |`);
  }
  const cited = rows.filter((r) => r.cite).length;
  lines.push(
    `| all | ${rows.length} | ${rows.filter((r) => r.status === "pass").length} |`,
    "",
    `${rows.length} hostile cases, ${cited} of them modelled on a CVE, a weakness or a peer's regress case.`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<number> {
  const all = process.argv.includes("--all");
  const files = all ? globSync("test/**/*.test.ts", { cwd: ROOT }).sort() : suiteFiles();
  const dir = mkdtempSync(join(tmpdir(), "logward-hostile-"));
  try {
    const out = join(dir, "results.jsonl");
    const code = await runTests(files, out);
    let text = "";
    try {
      text = readFileSync(out, "utf8");
    } catch {
      // node:test wrote nothing: every case is missing, and the table says so
    }
    const ran = text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Ran)
      .map((r) => ({ ...r, file: basename(r.file) }));
    const rows = tabulate(ran);
    printTable(rows);
    const bad = rows.filter((r) => r.status === "FAIL" || r.status === "MISSING");
    const problems: string[] = [];
    if (code !== 0) problems.push(`node --test exited with ${code}`);
    if (bad.length > 0) problems.push(`${bad.length} case(s) failed or did not run`);
    const ranCount = rows.filter((r) => r.status === "pass").length;
    if (ranCount < MIN_CASES) problems.push(`only ${ranCount} cases passed, fewer than ${MIN_CASES}`);
    if (problems.length > 0) {
      process.stderr.write(`test:hostile: ${problems.join("; ")}.\n`);
      return 1;
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exitCode = await main();
