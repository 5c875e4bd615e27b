// The outputs' state file, <store>/run/outputs.json (docs/OUTPUTS.md, "State"): each configured
// output's position per stream, restarts and last error, as the collector's output runner last
// saw them. The runner writes it (src/output/outputs.ts); `ls` and the web UI read it without
// asking the daemon (query/output-state.ts), and work out the lag from the streams' ends. One
// type, one writer and one parser, so that both sides agree on the document.

import { writeFileAtomic } from "./files.ts";
import { outputStatePath } from "./layout.ts";

/** Where an output is in one stream: the last acknowledged record (seq 0: none yet). */
export interface OutputPosition {
  seq: number;
  /** That record's receive time (27 bytes), or null when it is not known (seq 0, or from a cursor). */
  time: string | null;
}

/** "running": delivering or waiting for records; "retrying": failed, waiting to start again. */
export type OutputStatus = "running" | "retrying";

/** One output's entry. */
export interface OutputState {
  name: string;
  type: string;
  match: string;
  status: OutputStatus;
  /** Times it failed and was started again since `serve` started (or the output was changed). */
  restarts: number;
  lastError: string | null;
  /** When lastError happened (ISO 8601). */
  lastErrorAt: string | null;
  /** "ORIGIN/STREAM" -> position. */
  streams: Record<string, OutputPosition>;
  /** Counters of its destination, when it keeps any (a notify rule: notified, held, unchecked). */
  counts?: Record<string, number>;
}

/** What run/outputs.json holds. */
export interface OutputsState {
  /** When it was written (ISO 8601). */
  updated: string;
  outputs: OutputState[];
}

/** A document larger than this is not a state file logward wrote: it is treated as unknown. */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** The file's text for a document: one line of JSON. */
export function formatOutputsState(doc: OutputsState): string {
  return `${JSON.stringify(doc)}\n`;
}

/** Writes the state file atomically (a reader sees the old document or the new one). */
export function writeOutputsState(root: string, doc: OutputsState): Promise<void> {
  return writeFileAtomic(outputStatePath(root), formatOutputsState(doc));
}

/** A state file's document, or null when the text is not one. Throws nothing. */
export function parseOutputsState(text: string): OutputsState | null {
  if (text.length > MAX_STATE_BYTES) return null;
  try {
    const doc = JSON.parse(text) as OutputsState;
    return typeof doc === "object" && doc !== null && Array.isArray(doc.outputs) ? doc : null;
  } catch {
    return null;
  }
}
