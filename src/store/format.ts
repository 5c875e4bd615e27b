// The store's format marker (<root>/FORMAT), checked by every reader and written by the
// store when it creates a new root. Kept apart from store.ts so that readers (show, search,
// ls) do not load the writer's code.

import { ioError, LogwardError } from "../errors.ts";
import { readFileNoFollow, writeFileAtomic } from "./files.ts";
import { FORMAT_FILE, formatPath } from "./layout.ts";
import { FORMAT_VERSION } from "./record.ts";

const FORMAT_TEXT = `logward store format ${FORMAT_VERSION}\n`;

/** Checks (and for a new store, writes) the store's format marker. Used by readers too. */
export async function checkStoreFormat(root: string, create: boolean): Promise<void> {
  const path = formatPath(root);
  let text: string;
  try {
    text = await readFileNoFollow(path, "latin1");
  } catch (err) {
    if (err instanceof LogwardError) throw err; // a link: LW_UNSAFE_PATH
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("read", path, err);
    if (!create) {
      throw new LogwardError(
        "LW_NO_STORE",
        `${root} is not a logward store (no ${FORMAT_FILE} file); check --store or $LOGWARD_STORE.`,
      );
    }
    await writeFileAtomic(path, FORMAT_TEXT);
    return;
  }
  // a crash while the marker was first written (before writes were atomic) can leave it empty or
  // cut short: that is this format's marker, torn, not another program's file
  if (text.length < FORMAT_TEXT.length && FORMAT_TEXT.startsWith(text)) {
    if (create) await writeFileAtomic(path, FORMAT_TEXT);
    return;
  }
  const m = /^logward store format (\d+)\n?$/.exec(text);
  if (!m) throw new LogwardError("LW_NO_STORE", `${path} is not a logward format marker; check --store.`);
  if (Number(m[1]) > FORMAT_VERSION) {
    throw new LogwardError(
      "LW_STORE_VERSION",
      `The store ${root} has format ${m[1]}, newer than this logward understands (${FORMAT_VERSION}); upgrade logward.`,
    );
  }
}
