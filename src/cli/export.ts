// `logward export` and `logward verify-export`: hand a selection to someone else as one
// zstd-compressed tar with a manifest (origins, streams, time and sequence ranges, record
// counts, SHA-256 of each member) and a README; check such an archive later.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configFileOrDefault, loadConfig } from "../config/load.ts";
import { formatBytes } from "../config/units.ts";
import { LogwardError } from "../errors.ts";
import { writeArchive } from "../query/export.ts";
import { type VerifiedArchive, verifyArchive } from "../query/export-verify.ts";
import { streamsOfOrigins } from "../query/select.ts";
import { timeBound } from "../query/time.ts";
import { KeyDeriver, parseVerificationKey } from "../seal/key.ts";
import { type LinesReport, SealedLinesCheck } from "../seal/verify-lines.ts";
import { escapeText } from "../store/escape.ts";
import { checkStoreFormat } from "../store/format.ts";
import { checkStoredOrigin } from "../store/names.ts";
import { parse } from "./args.ts";
import { Progress } from "./progress.ts";
import { storePath } from "./store-path.ts";

export const EXPORT_HELP = `Usage: logward export [ORIGIN...] [--since T] [--until T] (-o FILE | --to-vm VM) [options]

Writes the selected records (every origin, or those named) to one archive: a tar compressed
with zstd, holding each stream's stored lines (escaped, as 'show' prints them), the opaque
objects of blob streams announced in the selection (exact bytes, objects/ORIGIN/STREAM/
SHA256.TYPE, checked against their SHA-256 as they are read), a manifest
(origins, streams, time and sequence ranges, record counts, SHA-256 of each member) and a
README for the recipient. 'logward verify-export FILE' checks it.

Options:
  --since T       records received at or after T
  --until T       records received before T
  -o FILE         the archive to write (e.g. evidence.tar.zst)
  --to-vm VM      instead, copy the archive to the qube VM with the configured command
                  ([export] copy_command, default ["qvm-copy-to-vm", "{vm}", "{file}"])
  --config FILE   the configuration (default /etc/logward/logward.toml, if any)
  --store DIR     the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                  else ~/.local/share/logward)
  -h, --help      show this help
`;

export const VERIFY_EXPORT_HELP = `Usage: logward verify-export FILE [--key KEY [--allow-late]]

Checks an archive written by 'logward export': every member the manifest lists is there,
with its size, record count and SHA-256 (every object with its size and SHA-256), and
nothing else is. Exits 0 and says so when it
holds; otherwise names the first problem and exits 1.

With --key (the verification key 'logward seal init' printed), also checks the seals the
archive carries, as 'logward verify' checks a store's: every seal whose whole coverage is in
the archive must be authentic and match its records byte for byte. A time window cuts the
coverage at both ends: the records at its start and end that no whole seal covers are
counted, not failed. Exit 1 names the first changed, missing, inserted or reordered record.

Options:
  --key KEY      the verification key (LWK1-…)
  --allow-late   accept seals made more than three epochs after their first record
  -h, --help     show this help
`;

function copyCommand(configFile: string | undefined, root: string): readonly string[] {
  return loadConfig(root, configFileOrDefault(configFile)).exportCopy ?? ["qvm-copy-to-vm", "{vm}", "{file}"];
}

export async function exportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "export",
    args,
    {
      store: { type: "string" },
      config: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      output: { type: "string", short: "o" },
      "to-vm": { type: "string" },
    },
    { min: 0, max: 1000 },
  );
  if ((values.output === undefined) === (values["to-vm"] === undefined)) {
    throw new LogwardError("LW_USAGE", "Name where the archive goes: -o FILE or --to-vm VM (one of them).");
  }
  if (values["to-vm"] !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(values["to-vm"])) {
    throw new LogwardError("LW_USAGE", "--to-vm must be a qube name.");
  }
  const origins = positionals.map(checkStoredOrigin);
  const now = Date.now() * 1000;
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const refs = await streamsOfOrigins(root, origins);
  for (const o of origins) {
    if (!refs.some((r) => r.origin === o)) {
      throw new LogwardError(
        "LW_NOT_FOUND",
        `There is no origin '${o}' in the store ${root}; 'logward ls' lists what there is.`,
      );
    }
  }
  const target = values.output ? resolve(values.output) : null;
  const work = target ? null : mkdtempSync(join(tmpdir(), "logward-export-"));
  try {
    const created = new Date(Number(now / 1000)).toISOString();
    const file = target ?? join(work!, `logward-export-${created.replace(/[:.]/g, "-")}.tar.zst`);
    const progress = new Progress("exporting", refs.length, (n) => `${n} streams`);
    const { records, streams, damagedRecords } = await writeArchive(
      root,
      refs,
      { since, until },
      Number(now),
      file,
      () => progress.add(1),
    );
    progress.end();
    const missing =
      damagedRecords > 0
        ? `; ${damagedRecords} records the store could not read back are not in it, and its manifest lists their ranges`
        : "";
    if (target) {
      process.stdout.write(`Exported ${records} records of ${streams} streams to ${target}${missing}.\n`);
      return 0;
    }
    const argv = copyCommand(values.config, root).map((a) =>
      a.replaceAll("{vm}", values["to-vm"]!).replaceAll("{file}", file),
    );
    const code = await new Promise<number | null>((res, rej) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" });
      child.once("error", (err) =>
        rej(new LogwardError("LW_USAGE", `The copy command '${argv[0]}' cannot be run (${err.message}).`)),
      );
      child.once("exit", (c) => res(c));
    });
    if (code !== 0)
      throw new LogwardError(
        "LW_IO",
        `The copy command '${argv.join(" ")}' failed (exit ${code}); nothing was handed over.`,
      );
    process.stdout.write(
      `Exported ${records} records of ${streams} streams to the qube ${values["to-vm"]}${missing}.\n`,
    );
    return 0;
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

export async function verifyExportCommand(args: string[]): Promise<number> {
  const { positionals, values } = parse(
    "verify-export",
    args,
    { key: { type: "string" }, "allow-late": { type: "boolean" } },
    { min: 1, max: 1 },
  );
  const file = resolve(positionals[0]!);
  const keys = values.key !== undefined ? new KeyDeriver(parseVerificationKey(values.key)) : null;
  const checks: SealedLinesCheck[] = [];
  const onStream = keys
    ? (origin: string, stream: string) => {
        const c = new SealedLinesCheck(keys, origin, stream, values["allow-late"] === true);
        checks.push(c);
        return { data: (chunk: Buffer) => c.push(chunk), end: () => {} };
      }
    : undefined;
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {}
  const progress = new Progress("verifying", size, formatBytes);
  let archive: VerifiedArchive;
  try {
    archive = await verifyArchive(file, (n) => progress.add(n), onStream);
  } finally {
    progress.end();
  }
  const seals = keys ? sealSummary(checks.map((c) => c.end())) : null;
  process.stdout.write(
    `${escapeText(file)}: OK, ${archive.streams} streams, ${archive.records} records${archive.objects ? `, ${archive.objects} objects` : ""}; every SHA-256 matches the manifest${archive.damagedRecords ? `; the manifest says ${archive.damagedRecords} records of the exporter's store could not be read and are not in it` : ""}.\n`,
  );
  if (seals) process.stdout.write(`${seals}\n`);
  return 0;
}

/** The seals' one-line summary; LW_TAMPERED naming the first stream whose seals fail. */
function sealSummary(reports: LinesReport[]): string {
  const bad = reports.find((r) => r.problem);
  if (bad) {
    const p = bad.problem!;
    throw new LogwardError(
      "LW_TAMPERED",
      `verify-export: ${bad.origin}/${bad.stream}, records ${p.from}–${p.to}: ${p.why}: ${p.detail}.`,
    );
  }
  const sum = (f: (r: LinesReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const parts = [
    `seals: ${sum((r) => r.sealedRecords)} records (${formatBytes(sum((r) => r.sealedBytes))}) intact under ${sum((r) => r.seals)} seals`,
  ];
  const head = sum((r) => r.headRecords);
  const tail = sum((r) => r.tailRecords);
  const spans =
    reports.filter((r) => r.headRecords > 0).length + reports.filter((r) => r.tailRecords > 0).length;
  if (spans > 0)
    parts.push(
      `${spans} partial spans at the edges not covered by a whole seal: ${head} records at the start (the window began inside a seal's coverage, or before sealing began), ${tail} at the end (their seal is after the window, or not made yet)`,
    );
  const unsealed = reports.filter((r) => r.seals === 0).length;
  if (unsealed > 0) parts.push(`${unsealed} streams with no whole seal`);
  return parts.join("; ");
}
