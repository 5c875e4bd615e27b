// `logward checkpoint`: the newest seal of every stream in a small file MAC'd with the store's
// current sealing key (src/seal/checkpoint.ts), to keep outside the log qube: `verify
// --checkpoint FILE` then proves the store still reaches every one of those seals.

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configFileOrDefault, loadConfig } from "../config/load.ts";
import { LogwardError } from "../errors.ts";
import { type CheckpointEntry, writeCheckpoint } from "../seal/checkpoint.ts";
import { readKeyFile } from "../seal/key.ts";
import { checkStoreFormat } from "../store/format.ts";
import { sealKeyPath } from "../store/layout.ts";
import { streamDir } from "../store/names.ts";
import { listStreams, streamSegments } from "../store/read.ts";
import { formatTime } from "../store/record.ts";
import { findLastSeal } from "../store/seal-chain.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const CHECKPOINT_HELP = `Usage: logward checkpoint [--store DIR] [-o FILE | --to-vm VM]

Writes a checkpoint: the newest seal of every stream, MAC'd with the store's current sealing
key. Keep it outside the log qube; 'logward verify --key KEY --checkpoint FILE' then proves the
store still reaches each of those seals, which is the only way to detect the newest records
cut off together with their seals, or a whole stream or origin deleted (docs/SEALS.md).
[seal] checkpoint_command sends one after every interval's seals.

Options:
  -o, --output FILE   write it to FILE (default: stdout)
  --to-vm VM          copy it to the qube VM with [export] copy_command
                      (default ["qvm-copy-to-vm", "{vm}", "{file}"])
  --config FILE       the configuration, for copy_command
  --store DIR         the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                      else ~/.local/share/logward)
  -h, --help          show this help
`;

export async function checkpointCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "checkpoint",
    args,
    {
      store: { type: "string" },
      output: { type: "string", short: "o" },
      "to-vm": { type: "string" },
      config: { type: "string" },
    },
    { min: 0, max: 0 },
  );
  if (values.output !== undefined && values["to-vm"] !== undefined)
    throw new LogwardError("LW_USAGE", "Name one place for the checkpoint: -o FILE or --to-vm VM.");
  if (values["to-vm"] !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(values["to-vm"]))
    throw new LogwardError("LW_USAGE", "--to-vm must be a qube name.");
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const key = await readKeyFile(sealKeyPath(root));
  if (!key)
    throw new LogwardError(
      "LW_NOT_SEALED",
      `The store ${root} has no sealing key; run 'logward seal init' first.`,
    );
  const entries: CheckpointEntry[] = [];
  for (const ref of await listStreams(root)) {
    const segs = await streamSegments(root, ref.origin, ref.stream);
    const seal = await findLastSeal(streamDir(root, ref.origin, ref.stream), segs);
    if (seal) entries.push({ origin: ref.origin, stream: ref.stream, seq: seal.seq, mac: seal.mac });
  }
  const text = writeCheckpoint(entries, key, formatTime(Date.now() * 1000));
  key.key.fill(0);
  if (values["to-vm"] !== undefined) {
    const vm = values["to-vm"];
    const dir = await mkdtemp(join(tmpdir(), "logward-checkpoint-"));
    const file = join(dir, `logward-checkpoint-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    try {
      await writeFile(file, text, { mode: 0o600 });
      const config = loadConfig(root, configFileOrDefault(values.config));
      const argv = (config.exportCopy ?? ["qvm-copy-to-vm", "{vm}", "{file}"]).map((a) =>
        a.replaceAll("{vm}", vm).replaceAll("{file}", file),
      );
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" });
        child.on("error", (err) =>
          reject(
            new LogwardError("LW_USAGE", `The copy command '${argv[0]}' cannot be run (${err.message}).`),
          ),
        );
        child.on("close", resolve);
      });
      if (code !== 0)
        throw new LogwardError(
          "LW_USAGE",
          `The copy command '${argv.join(" ")}' failed (exit ${code}); nothing was handed over.`,
        );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    process.stderr.write(`Checkpoint of ${entries.length} streams copied to the qube ${vm}.\n`);
  } else if (values.output !== undefined && values.output !== "-") {
    await writeFile(values.output, text, { mode: 0o600 });
    process.stderr.write(`Checkpoint of ${entries.length} streams written to ${values.output}.\n`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
