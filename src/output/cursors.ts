// An output's durable cursors: per stream, the last record the destination acknowledged, in
// <store>/run/outputs/<name>/cursors.json (written atomically and fsync'd, store/files.ts). The
// runner moves a cursor only after deliver() resolved or the destination acknowledged the
// record (destination.ts), so after a crash of anything an output resends from here: nothing
// acknowledged is lost. Writes are coalesced: at most one is in flight, and the next one takes
// whatever moved meanwhile, so a stream of acks costs one fsync per write, not one per ack.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { LogwardError } from "../errors.ts";
import { readFileNoFollow, writeFileAtomic } from "../store/files.ts";
import { OUTPUTS_DIR, outputCursorsPath, outputDir, RUN_DIR, runDir } from "../store/layout.ts";
import { checkStoreDir } from "../store/names.ts";

/** Refuses run/outputs or run/outputs/<name> planted as a link (or another user's directory). */
function checkOutputDir(root: string, name: string): void {
  checkStoreDir(root, join(runDir(root), OUTPUTS_DIR), `${RUN_DIR}/${OUTPUTS_DIR}`);
  checkStoreDir(root, outputDir(root, name), `${RUN_DIR}/${OUTPUTS_DIR}/${name}`);
}

import type { OutputPosition } from "../store/output-state.ts";

const FILE_VERSION = 1;

/** "ORIGIN/STREAM" -> the last acknowledged record. */
export type CursorMap = Map<string, OutputPosition>;

export function streamKey(origin: string, stream: string): string {
  return `${origin}/${stream}`;
}

export class Cursors {
  readonly positions: CursorMap;
  private readonly root: string;
  private readonly name: string;
  private writing: Promise<void> | null = null;
  private dirty = false;
  /** The last write's failure, reported by flush() (a cursor that cannot be saved stops the output). */
  private failure: Error | null = null;

  private constructor(root: string, name: string, positions: CursorMap) {
    this.root = root;
    this.name = name;
    this.positions = positions;
  }

  /** The output's saved cursors (none for a new output); a damaged file is an error, never "start over". */
  static async load(root: string, name: string): Promise<Cursors> {
    const file = outputCursorsPath(root, name);
    let text: string;
    try {
      checkOutputDir(root, name);
      text = await readFileNoFollow(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(outputDir(root, name), { recursive: true, mode: 0o750 });
      return new Cursors(root, name, new Map());
    }
    const positions: CursorMap = new Map();
    try {
      const doc = JSON.parse(text) as { version: number; streams: Record<string, OutputPosition> };
      if (doc.version !== FILE_VERSION || typeof doc.streams !== "object")
        throw new Error("not a cursor file");
      for (const [key, p] of Object.entries(doc.streams)) {
        if (!Number.isSafeInteger(p.seq) || p.seq < 0) throw new Error(`bad seq for ${key}`);
        positions.set(key, { seq: p.seq, time: typeof p.time === "string" ? p.time : null });
      }
    } catch (err) {
      throw new LogwardError(
        "LW_CONFIG",
        `The cursors of output ${name} (${file}) cannot be read: ${(err as Error).message}; remove the file to start the output from its start setting.`,
      );
    }
    return new Cursors(root, name, positions);
  }

  /** Moves a stream's cursor forward (never back) and schedules a write. */
  advance(key: string, seq: number, time: string | null): void {
    const have = this.positions.get(key);
    if (have && (have.seq > seq || (have.seq === seq && (have.time !== null || time === null)))) return;
    this.positions.set(key, { seq, time });
    this.schedule();
  }

  /** Sets a stream's cursor where a new output starts in it (start = "newest"): written at once. */
  place(key: string, seq: number, time: string | null): void {
    if (this.positions.has(key)) return;
    this.positions.set(key, { seq, time });
    this.schedule();
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing) return;
    this.writing = this.writeLoop().finally(() => {
      this.writing = null;
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      const streams: Record<string, OutputPosition> = {};
      for (const [k, p] of [...this.positions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        streams[k] = p;
      try {
        checkOutputDir(this.root, this.name); // a link swapped in must not receive the file
        await writeFileAtomic(
          outputCursorsPath(this.root, this.name),
          `${JSON.stringify({ version: FILE_VERSION, streams })}\n`,
        );
      } catch (err) {
        this.failure = err as Error;
      }
    }
  }

  /** Resolves once every cursor moved so far is on disk; throws if a write failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
  }
}
