import { randomBytes } from "node:crypto";
import { rename, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ioError, LogwardError } from "../errors.ts";
import { findObject, objectBytes } from "../query/objects.ts";
import { writeObject } from "../query/open.ts";
import { parseTarget } from "../query/target.ts";
import { fsyncDir } from "../store/files.ts";
import { checkStoreFormat } from "../store/format.ts";
import { parse, parseSeq } from "./args.ts";
import { exitQuietlyOnEpipe } from "./output.ts";
import { storePath } from "./store-path.ts";

export const GET_HELP = `Usage: logward get ORIGIN/STREAM SEQ [-o FILE] [--store DIR]

Writes the exact bytes of the object that record SEQ of ORIGIN/STREAM announced (a blob
stream: 'logward show ORIGIN/STREAM' lists its objects with their seq). The bytes are checked
against the SHA-256 and size in the record while they are read; a mismatch (a changed or
damaged file) fails with LW_OBJECT_CORRUPT. Reads the store directly; the daemon need not run.

Options:
  -o, --output FILE  write the object to FILE (created private, 0600, complete or not at all:
                     written beside it, checked, fsync'd, then renamed over FILE)
  --store DIR        the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                     else ~/.local/share/logward)
  -h, --help         show this help

Without -o the bytes go to standard output; on a terminal only a text object is written
(a binary one could drive the terminal: use -o FILE).
`;

export async function getCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    "get",
    args,
    { store: { type: "string" }, output: { type: "string", short: "o" } },
    { min: 2, max: 2 },
  );
  const { origin, stream } = parseTarget(positionals[0]!);
  if (stream === undefined)
    throw new LogwardError("LW_USAGE", "Name the stream as ORIGIN/STREAM; see 'logward get --help'.");
  const seq = parseSeq(positionals[1]!, "SEQ");
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const o = await findObject(root, origin, stream, seq);
  const file = values.output;
  if (file === undefined) {
    if (process.stdout.isTTY && o.type !== "text")
      throw new LogwardError(
        "LW_BINARY_TERMINAL",
        `Object ${o.seq} of ${origin}/${stream} is ${o.type}, not text, and standard output is a terminal; use -o FILE.`,
      );
    exitQuietlyOnEpipe();
    const stdout = process.stdout;
    for await (const chunk of objectBytes(o) as AsyncIterable<Buffer>) {
      if (!stdout.write(chunk)) await new Promise((r) => stdout.once("drain", r));
    }
    return 0;
  }
  const target = resolve(file);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeObject(tmp, o, true);
    await rename(tmp, target).catch((err) => {
      throw ioError("write", target, err);
    });
    await fsyncDir(dirname(target));
  } catch (err) {
    await unlink(tmp).catch(() => {});
    if (err instanceof LogwardError) throw err;
    throw ioError("write", target, err);
  }
  return 0;
}
