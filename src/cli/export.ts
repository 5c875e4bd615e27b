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

export const VERIFY_EXPORT_HELP = `Usage: logward verify-export FILE

Checks an archive written by 'logward export': every member the manifest lists is there,
with its size, record count and SHA-256 (every object with its size and SHA-256), and
nothing else is. Exits 0 and says so when it
holds; otherwise names the first problem and exits 1.
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
    const { records, streams } = await writeArchive(root, refs, { since, until }, Number(now), file, () =>
      progress.add(1),
    );
    progress.end();
    if (target) {
      process.stdout.write(`Exported ${records} records of ${streams} streams to ${target}.\n`);
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
      `Exported ${records} records of ${streams} streams to the qube ${values["to-vm"]}.\n`,
    );
    return 0;
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}

export async function verifyExportCommand(args: string[]): Promise<number> {
  const { positionals } = parse("verify-export", args, {}, { min: 1, max: 1 });
  const file = resolve(positionals[0]!);
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {}
  const progress = new Progress("verifying", size, formatBytes);
  let archive: VerifiedArchive;
  try {
    archive = await verifyArchive(file, (n) => progress.add(n));
  } finally {
    progress.end();
  }
  process.stdout.write(
    `${escapeText(file)}: OK, ${archive.streams} streams, ${archive.records} records${archive.objects ? `, ${archive.objects} objects` : ""}; every SHA-256 matches the manifest.\n`,
  );
  return 0;
}
