// `logward seal init`: gives a store its first sealing key (docs/SEALS.md) and prints the
// verification key once, as the last line on stdout. Takes the writer lock, so it runs while
// `serve` is stopped; `--force` (a new key for a sealed store) is recorded in _logward/events.

import { spawnSync } from "node:child_process";
import { configFileOrDefault, loadConfig } from "../config/load.ts";
import { LogwardError } from "../errors.ts";
import { formatVerificationKey, newKeys, readKeyFile, writeKeyFile } from "../seal/key.ts";
import { sealKeyPath } from "../store/layout.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { Store } from "../store/store.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const SEAL_HELP = `Usage: logward seal init [--store DIR] [--config FILE] [--force] [--qr]

Creates the store's first sealing key (run/seal.key, 0600) and prints the verification key
as the last line on stdout, once. Keep it outside the log qube (another qube, paper):
'logward verify --key KEY' needs it, and whoever holds it can also make seals. From then on
'logward serve' seals every stream each [seal] interval, at every segment seal and at
shutdown, and moves the sealing key one way after each batch (docs/SEALS.md).
Run it while serve is stopped (it takes the store's writer lock). Epochs last [seal] interval
as the configuration sets it now (the verification key holds their start and length).

Options:
  --force       the store is sealed already: start a new key anyway (recorded in
                _logward/events; seals made before verify only with the old key)
  --config FILE the configuration ([seal] interval: the length of an epoch)
  --qr          also show the key as a QR code on the terminal (needs qrencode)
  --store DIR   the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                else ~/.local/share/logward)
  -h, --help    show this help
`;

export async function sealCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "seal",
    args,
    {
      store: { type: "string" },
      config: { type: "string" },
      force: { type: "boolean" },
      qr: { type: "boolean" },
    },
    { min: 1, max: 1 },
  );
  if (positionals[0] !== "init")
    throw new LogwardError("LW_USAGE", "'logward seal' has one subcommand, init; see 'logward seal --help'.");
  const root = storePath(values.store);
  const store = await Store.open(root);
  let printed: string;
  try {
    const path = sealKeyPath(root);
    const old = await readKeyFile(path).catch(() => null);
    const exists =
      old !== null ||
      (await readKeyFile(path).then(
        () => false,
        () => true,
      ));
    if (exists && !values.force) {
      throw new LogwardError(
        "LW_SEALED",
        `The store ${root} is sealed already (key ${old?.keyId ?? "unreadable"}); 'logward seal init --force' starts a new key, and that is recorded.`,
      );
    }
    const epochS = Math.round(loadConfig(root, configFileOrDefault(values.config)).sealIntervalMs / 1000);
    const { verification, first } = newKeys(epochS);
    await writeKeyFile(path, first);
    const events = await store.stream(COLLECTOR_ORIGIN, "events");
    events.appendCollector(
      "note",
      `event=seal-init key=${first.keyId} epoch=${first.epoch} epoch_length=${epochS}s${exists ? ` force=1 previous_key=${old?.keyId ?? "unreadable"}` : ""} pid=${process.pid}`,
    );
    await events.waitDurable();
    printed = formatVerificationKey(verification);
    verification.k0.fill(0);
  } finally {
    await store.close();
  }
  process.stderr.write(
    "logward: the store is sealed from the next 'logward serve' on. Keep this verification key\n" +
      "outside the log qube; it is not stored anywhere and is shown only now:\n",
  );
  if (values.qr) {
    const qr = process.stdout.isTTY
      ? spawnSync("qrencode", ["-t", "ANSIUTF8", printed], { encoding: "utf8" })
      : null;
    if (qr?.status === 0) process.stdout.write(qr.stdout);
    else
      process.stderr.write(
        `logward: no QR code: ${process.stdout.isTTY ? "qrencode is not installed (apt install qrencode)" : "stdout is not a terminal"}.\n`,
      );
  }
  process.stdout.write(`${printed}\n`);
  return 0;
}
