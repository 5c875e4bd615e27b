// `logward verify`: checks every seal of a store with the verification key (src/seal,
// docs/SEALS.md), read-only and without the writer lock, so it also runs on a copy. Exit 0 and
// one summary line when every sealed byte is intact; else exit 1 naming the first bad stream,
// segment and record range and why.

import { readFile } from "node:fs/promises";
import { formatBytes } from "../config/units.ts";
import { LogwardError } from "../errors.ts";
import { readCheckpoint } from "../seal/checkpoint.ts";
import { KeyDeriver, parseVerificationKey } from "../seal/key.ts";
import { verifyStore } from "../seal/verify-store.ts";
import { checkStoreFormat } from "../store/format.ts";
import { parse } from "./args.ts";
import { Progress } from "./progress.ts";
import { storePath } from "./store-path.ts";

export const VERIFY_HELP = `Usage: logward verify --key KEY [--checkpoint FILE] [--store DIR] [--json] [--strict]

Checks the store's seals with the verification key 'logward seal init' printed: every byte
of every stream between two seals must be what the later seal covers, each seal authentic for
its epoch and chained to the one before. Reads the files only (no lock): a copy verifies too.
Exit 0 and one summary line when every sealed byte is intact; else exit 1 naming the first
bad origin/stream, segment and record range, and why (changed, missing, reordered, inserted,
truncated, forged, other key, sealed late, removed without record). Records not sealed yet (the newest,
or a tail left by a crash) are counted, not failed, unless --strict.

Truncating the newest records together with their seals, and deleting whole streams, show
only against a checkpoint kept elsewhere ('logward checkpoint', docs/SEALS.md).

Options:
  --key KEY          the verification key (LWK1-…)
  --checkpoint FILE  also prove the store still reaches every seal this checkpoint names
  --strict           records not covered by a seal also fail
  --allow-late       accept seals made more than three epochs after their first record
                     (the collector was down that long: check _logward/events first)
  --json             one JSON object: every stream's figures and the problem, if any
  --store DIR        the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                     else ~/.local/share/logward)
  -h, --help         show this help
`;

export async function verifyCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "verify",
    args,
    {
      store: { type: "string" },
      key: { type: "string" },
      checkpoint: { type: "string" },
      json: { type: "boolean" },
      strict: { type: "boolean" },
      "allow-late": { type: "boolean" },
    },
    { min: 0, max: 0 },
  );
  if (!values.key) throw new LogwardError("LW_USAGE", "verify needs the verification key: --key LWK1-…");
  const keys = new KeyDeriver(parseVerificationKey(values.key));
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  let checkpoint = null;
  if (values.checkpoint !== undefined) {
    let text: string;
    try {
      text = await readFile(values.checkpoint, "utf8");
    } catch (err) {
      throw new LogwardError(
        "LW_CHECKPOINT_INVALID",
        `The checkpoint ${values.checkpoint} cannot be read (${(err as NodeJS.ErrnoException).code}).`,
      );
    }
    checkpoint = readCheckpoint(text, keys, values.checkpoint);
  }
  let progress: Progress | null = null;
  const report = await verifyStore(
    root,
    keys,
    checkpoint,
    (total, n) => {
      progress ??= new Progress("verify", total, formatBytes);
      progress.add(n);
    },
    values["allow-late"] === true,
  );
  (progress as Progress | null)?.end();
  const streams = report.streams;
  const sum = (f: (r: (typeof streams)[number]) => number) => streams.reduce((n, r) => n + f(r), 0);
  const sealed = sum((r) => r.sealedRecords);
  const tail = sum((r) => r.unsealedTail);
  const head = sum((r) => r.unverifiedHead?.records ?? 0);
  const seals = sum((r) => r.seals);
  const removed = streams.filter((r) => r.removed).length;
  const strictFail = values.strict && (tail > 0 || head > 0);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        ok: !report.problem && !strictFail,
        problem: report.problem,
        checkpoint: report.checkpoint,
        bytes: report.bytes,
        streams: streams.map(({ watched: _w, ...r }) => r),
      })}\n`,
    );
  }
  const p = report.problem;
  if (p) {
    const where = `${p.origin}/${p.stream}${p.segment ? ` segment ${p.segment}` : ""}, records ${p.from}–${p.to}`;
    throw new LogwardError("LW_TAMPERED", `verify: ${where}: ${p.why}: ${p.detail}.`);
  }
  if (!values.json) {
    const parts = [
      `verified ${streams.length} streams: ${sealed} records (${formatBytes(sum((r) => r.sealedBytes))}) intact under ${seals} seals`,
    ];
    if (tail > 0)
      parts.push(
        `${tail} newest records not sealed yet (${streams.filter((r) => r.unsealedTail > 0).length} streams)`,
      );
    if (head > 0)
      parts.push(
        `${head} older records not verifiable (stored before sealing began, or sealed with removed records)`,
      );
    if (removed > 0) parts.push(`oldest records removed on record (!evict) in ${removed} streams`);
    if (report.checkpoint) {
      const c = report.checkpoint;
      parts.push(
        `checkpoint: ${c.reached} of ${c.entries} seals reached${c.deleted ? `, ${c.deleted} streams deleted on record` : ""}${c.evicted ? `, ${c.evicted} evicted on record` : ""}${c.after ? `; ${c.after} records stored after it, which it does not vouch for (anyone holding the sealing key since could have written them)` : ""}`,
      );
    }
    process.stdout.write(`${parts.join("; ")}\n`);
  }
  if (strictFail) {
    throw new LogwardError(
      "LW_TAMPERED",
      `verify --strict: ${tail + head} records are not covered by a seal.`,
    );
  }
  return 0;
}
