// The spool's state.json: its id (the numbering the collector knows it by), the seq floor, the
// source positions held by segments already removed, and the dropped head range. Written
// atomically (temporary file, fsync, rename) before any segment goes; read once at open.

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LogwardError } from "../errors.ts";
import { writeFileAtomic } from "../store/files.ts";
import type { GapRange } from "./spool-format.ts";

export interface SpoolState {
  id: string;
  /** No seq below it is ever used again. */
  nextSeq: number;
  positions: Record<string, unknown>;
  /** Seqs removed (drop-oldest) before the collector acknowledged them. */
  dropped: GapRange | null;
}

function newId(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 2 ** 40).toString(36)}`;
}

/** Creates `dir` if need be and reads its state, or starts a new spool (a new id) when it has none. */
export async function openSpoolState(dir: string): Promise<SpoolState> {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new LogwardError("LW_IO", `Cannot create the spool directory ${dir}: ${(err as Error).message}.`);
  }
  let state: SpoolState;
  try {
    state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as SpoolState;
    if (typeof state.id !== "string" || !Number.isSafeInteger(state.nextSeq)) throw new Error("bad state");
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code !== "ENOENT" &&
      readdirSync(dir).some((f) => f.endsWith(".spool"))
    ) {
      throw new LogwardError(
        "LW_IO",
        `The spool ${dir} has segments but its state.json is damaged; move the directory away to start a new spool.`,
      );
    }
    state = { id: newId(), nextSeq: 1, positions: {}, dropped: null };
    await saveSpoolState(dir, state);
  }
  return state;
}

export async function saveSpoolState(dir: string, state: SpoolState): Promise<void> {
  await writeFileAtomic(join(dir, "state.json"), JSON.stringify(state));
}
