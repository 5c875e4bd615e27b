// `logward export` and `logward verify-export`: hand a selection to someone else as one
// zstd-compressed tar with a manifest (origins, streams, time and sequence ranges, record
// counts, SHA-256 of each member) and a README; check such an archive later.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { createZstdDecompress } from "node:zlib";
import { configFileOrDefault, loadConfig } from "../collector/config.ts";
import { LogwardError } from "../errors.ts";
import { formatBytes } from "../policy/units.ts";
import { MANIFEST, README, writeArchive } from "../query/export.ts";
import {
  BEFORE_MANIFEST_BYTES,
  type CheckedManifest,
  checkManifest,
  isExportName,
  MAX_MANIFEST_BYTES,
  MAX_README_BYTES,
  shown,
  TAR_SLACK_BYTES,
  TextMemberCheck,
  unsafeNameProblem,
} from "../query/export-check.ts";
import { TarReader } from "../query/tar.ts";
import { timeBound } from "../query/time.ts";
import { escapeText } from "../store/escape.ts";
import { checkStoreFormat } from "../store/format.ts";
import { checkStoredOrigin } from "../store/names.ts";
import { listStreams } from "../store/read.ts";
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
  const refs = (await listStreams(root)).filter((r) => origins.length === 0 || origins.includes(r.origin));
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
  const seen = new Map<string, { size: number; sha256: string; lines: number }>();
  // the manifest comes second (export writes README.txt, manifest.json, then the members): every
  // later member is checked against it as its header arrives, and decompression is bounded by
  // what it declares, so a crafted archive fails at its first wrong byte, never after gigabytes
  let checked: CheckedManifest | null = null;
  let limit = BEFORE_MANIFEST_BYTES;
  let decompressed = 0;
  let current: {
    path: string;
    size: number;
    hash: ReturnType<typeof createHash>;
    lines: number;
    keep: Buffer[] | null;
    text: TextMemberCheck | null;
  } | null = null;
  const reader = new TarReader({
    member(path, size) {
      const unsafe = unsafeNameProblem(path);
      if (unsafe) throw new Error(`the member ${shown(path)} ${unsafe}`);
      if (seen.has(path)) throw new Error(`the member ${shown(path)} is in the archive twice`);
      if (!isExportName(path))
        throw new Error(`the member ${shown(path)} is not a member logward export writes`);
      let text: TextMemberCheck | null = null;
      if (path === README) {
        if (size > MAX_README_BYTES)
          throw new Error(`its ${README} is larger than any logward export writes`);
        text = new TextMemberCheck(path, null);
      } else if (path === MANIFEST) {
        if (size > MAX_MANIFEST_BYTES)
          throw new Error(`its ${MANIFEST} is larger than ${MAX_MANIFEST_BYTES} bytes`);
      } else {
        if (!checked) throw new Error(`the member ${shown(path)} comes before the manifest`);
        const want = checked.expected.get(path);
        if (!want) throw new Error(`the member ${shown(path)} is not in the manifest`);
        if (size !== want.bytes)
          throw new Error(`the member ${shown(path)} has ${size} bytes, the manifest says ${want.bytes}`);
        if (want.kind === "log") text = new TextMemberCheck(path, want.records);
      }
      current = {
        path,
        size,
        hash: createHash("sha256"),
        lines: 0,
        keep: path === MANIFEST ? [] : null,
        text,
      };
    },
    data(chunk) {
      const c = current!;
      c.hash.update(chunk);
      c.text?.push(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) c.lines++;
      c.keep?.push(Buffer.from(chunk));
    },
    end() {
      const c = current!;
      c.text?.end();
      if (c.keep) {
        checked = checkManifest(Buffer.concat(c.keep).toString("utf8"));
        limit = decompressed + checked.memberTarBytes + TAR_SLACK_BYTES;
      }
      seen.set(c.path, { size: c.size, sha256: c.hash.digest("hex"), lines: c.lines });
      current = null;
    },
  });
  const fail = (why: string): never => {
    throw new LogwardError("LW_EXPORT_INVALID", `${file} does not verify: ${why}.`);
  };
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {}
  const progress = new Progress("verifying", size, formatBytes);
  try {
    const input = createReadStream(file);
    input.on("data", (c) => progress.add(c.length));
    await pipeline(input, createZstdDecompress(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        // counted before it is read: a bomb stops here, at most one chunk past the bound
        decompressed += chunk.length;
        if (decompressed > limit)
          throw new Error(
            checked
              ? `it decompresses to more than the ${limit} bytes its manifest declares`
              : `it decompresses to more than ${limit} bytes before its manifest`,
          );
        reader.push(chunk);
      }
      reader.end();
    });
    progress.end();
  } catch (err) {
    progress.end();
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new LogwardError("LW_NOT_FOUND", `There is no file ${file}.`);
    fail((err as Error).message);
  }
  const manifest = checked as CheckedManifest | null;
  if (!manifest) return fail("its manifest.json is missing or not JSON");
  let records = 0;
  for (const m of manifest.members) {
    const got = seen.get(m.path);
    if (!got) fail(`the member ${shown(m.path)} listed in the manifest is missing`);
    if (got!.sha256 !== m.sha256)
      fail(`the member ${shown(m.path)} does not match its SHA-256 in the manifest (changed after export)`);
    if (got!.lines !== m.records)
      fail(`the member ${shown(m.path)} has ${got!.lines} records, the manifest says ${m.records}`);
    records += m.records;
  }
  // objects (blob streams): their bytes must have the SHA-256 and size their record gave
  for (const o of manifest.objects) {
    const got = seen.get(o.path);
    if (!got) fail(`the object ${shown(o.path)} listed in the manifest is missing`);
    if (got!.sha256 !== o.sha256)
      fail(`the object ${shown(o.path)} does not match its SHA-256 in the manifest (changed after export)`);
  }
  process.stdout.write(
    `${escapeText(file)}: OK, ${manifest.members.length} streams, ${records} records${manifest.objects.length ? `, ${manifest.objects.length} objects` : ""}; every SHA-256 matches the manifest.\n`,
  );
  return 0;
}
