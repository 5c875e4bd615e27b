// `logward open`: a selection of records, written to a private temporary file, opened in the
// viewer configured for the stream's type (`[viewers]`), the file removed afterwards. On Qubes
// the viewer is `qvm-open-in-dvm`, so that attacker-controlled content is looked at in a
// disposable qube, never in the log qube itself (Qubes issue #6285).

import { configFileOrDefault, loadConfig } from "../config/load.ts";
import { LogwardError } from "../errors.ts";
import {
  chooseViewer,
  openObject,
  privateFile,
  runViewer,
  selectionFileName,
  streamType,
  writeSelection,
} from "../query/open.ts";
import { selectStreams } from "../query/records.ts";
import { parseTarget } from "../query/target.ts";
import { timeBound } from "../query/time.ts";
import { checkStoreFormat } from "../store/format.ts";
import { parse, parseSeq } from "./args.ts";
import { warnDamaged } from "./show.ts";
import { storePath } from "./store-path.ts";

export const OPEN_HELP = `Usage: logward open ORIGIN[/STREAM] [--since T] [--until T] [--raw] [options]
       logward open ORIGIN/STREAM --seq SEQ [options]

Writes the selected records to a private temporary file, opens it in the viewer configured
for the stream's type, and removes the file when the viewer exits. By default the file holds
the stored, escaped lines (safe in any viewer); --raw writes the sender's original bytes, for
types whose viewer understands them (journal export, EVTX, ...).

Viewers come from the configuration's [viewers] table, by stream type (the format the
stream was received in: lines, octets, journal, agent), else its "default" entry:
  [viewers]
  default = ["qvm-open-in-dvm", "--view-only", "{file}"]
  journal = ["qvm-open-in-dvm", "--view-only", "{file}"]
Without one: qvm-open-in-dvm --view-only if it is installed (Qubes), else 'less' for escaped text; raw
bytes are never given to a local viewer that was not configured for them.

With --seq, opens the object that record SEQ announced (a blob stream's EVTX, BSM, pcap, ...;
'logward show ORIGIN/STREAM --objects' lists them): its exact bytes, checked against their
SHA-256, in a private file named ORIGIN-STREAM-SEQ plus the type's extension (.evtx, .bsm,
.pcap, .pcapng, .gz, .zst, .txt, .bin), given to the viewer for the object's type:
  [viewers]
  evtx = ["qvm-open-in-dvm", "--view-only", "{file}"]
  bsm = ["qvm-open-in-dvm", "--view-only", "{file}"]

Options:
  --seq SEQ       open the object announced by record SEQ (needs ORIGIN/STREAM)
  --since T       records received at or after T
  --until T       records received before T
  --raw           the sender's original bytes instead of escaped lines
  --config FILE   the configuration with [viewers] (default /etc/logward/logward.toml, if any)
  --store DIR     the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                  else ~/.local/share/logward)
  -h, --help      show this help
`;

export async function openCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "open",
    args,
    {
      store: { type: "string" },
      config: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      raw: { type: "boolean" },
      seq: { type: "string" },
    },
    { min: 1, max: 1 },
  );
  const target = positionals[0]!;
  const { origin, stream } = parseTarget(target);
  if (values.seq !== undefined) {
    if (stream === undefined)
      throw new LogwardError("LW_USAGE", "--seq needs the stream: logward open ORIGIN/STREAM --seq SEQ.");
    const seq = parseSeq(values.seq, "--seq");
    if (values.raw || values.since !== undefined || values.until !== undefined)
      throw new LogwardError("LW_USAGE", "--seq opens one object; it takes no --raw, --since or --until.");
    const root = storePath(values.store);
    await checkStoreFormat(root, false);
    const viewers = loadConfig(root, configFileOrDefault(values.config)).viewers;
    const { exited } = await openObject(root, { origin, stream }, seq, viewers, "inherit");
    return (await exited) === 0 ? 0 : 1;
  }
  const now = Date.now() * 1000;
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const refs = await selectStreams(root, origin, stream);
  const viewers = loadConfig(root, configFileOrDefault(values.config)).viewers;
  const type = refs.length === 1 ? await streamType(root, refs[0]!) : "lines";
  const viewer = chooseViewer(viewers, type, { raw: values.raw === true, terminal: true });

  // a directory only we can enter, a file only we can read; both go when the viewer is done
  const { file, remove: cleanup } = privateFile(selectionFileName(origin, stream, values.raw === true, type));
  process.once("exit", cleanup);
  try {
    const { records, damaged } = await writeSelection(
      file,
      root,
      refs,
      { since, until },
      values.raw ? "raw" : "text",
    );
    warnDamaged(damaged);
    if (records === 0) {
      throw new LogwardError("LW_NOT_FOUND", `No records of ${target} in that time window; nothing to open.`);
    }
    const run = runViewer(viewer, file, "inherit");
    await run.started;
    const code = await run.exited;
    return code === 0 ? 0 : 1;
  } finally {
    cleanup();
  }
}
