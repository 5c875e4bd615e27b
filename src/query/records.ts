// Iterating stored records for `show` (and later search, export, the web UI): one stream in
// sequence order, or several streams merged by receive time. Lines are handed out as
// (block, start, end) views so that a caller can print a stored line without copying it.

import { LogwardError } from "../errors.ts";
import { streamDir } from "../store/names.ts";
import { originStreams, readStreamLines, type StreamRef, type Window } from "../store/read.ts";
import { LF, TIME_LEN } from "../store/record.ts";

export interface LineView {
  ref: StreamRef;
  block: Buffer;
  /** Offsets of the line in `block`, without its LF. */
  start: number;
  end: number;
}

/** Resolves `ORIGIN` or `ORIGIN/STREAM` to the streams that exist. */
export async function selectStreams(root: string, origin: string, stream?: string): Promise<StreamRef[]> {
  // only this origin's directory is listed: a one-origin `show` does not read the others
  const all = await originStreams(root, origin);
  const chosen = stream === undefined ? all : all.filter((r) => r.stream === stream);
  if (chosen.length === 0) {
    if (stream !== undefined) streamDir(root, origin, stream); // a planted link: LW_UNSAFE_PATH says so
    const what = stream === undefined ? `origin '${origin}'` : `stream '${origin}/${stream}'`;
    throw new LogwardError(
      "LW_NOT_FOUND",
      `There is no ${what} in the store ${root}; 'logward ls' lists what there is.`,
    );
  }
  return chosen;
}

/** Walks the lines of one stream's blocks. */
class Cursor {
  readonly ref: StreamRef;
  private readonly blocks: AsyncGenerator<Buffer>;
  block: Buffer | null = null;
  pos = 0;
  constructor(root: string, ref: StreamRef, w: Window) {
    this.ref = ref;
    this.blocks = readStreamLines(root, ref.origin, ref.stream, w);
  }
  /** Makes sure a line is available; false at the end. */
  async fill(): Promise<boolean> {
    while (!this.block || this.pos >= this.block.length) {
      const next = await this.blocks.next();
      if (next.done) {
        this.block = null;
        return false;
      }
      this.block = next.value;
      this.pos = 0;
    }
    return true;
  }
  take(): LineView {
    const block = this.block!;
    const start = this.pos;
    const end = block.indexOf(LF, start);
    this.pos = end + 1;
    return { ref: this.ref, block, start, end };
  }
}

/** Whole lines of one stream: block[start, end) ends with LF. */
export interface LineRun {
  ref: StreamRef;
  block: Buffer;
  start: number;
  end: number;
}

/** Several streams' lines merged by receive time (ties: the stream listed first). */
async function* mergeLines(root: string, refs: readonly StreamRef[], w: Window): AsyncGenerator<LineView> {
  const live: Cursor[] = [];
  for (const r of refs) {
    const c = new Cursor(root, r, w);
    if (await c.fill()) live.push(c);
  }
  while (live.length > 0) {
    let best = 0;
    for (let k = 1; k < live.length; k++) {
      const a = live[k]!;
      const b = live[best]!;
      if (a.block!.compare(b.block!, b.pos, b.pos + TIME_LEN, a.pos, a.pos + TIME_LEN) < 0) best = k;
    }
    const c = live[best]!;
    yield c.take();
    if (!(await c.fill())) live.splice(best, 1);
  }
}

/** One stream's lines, block by block. */
async function* streamLines(root: string, ref: StreamRef, w: Window): AsyncGenerator<LineView> {
  for await (const block of readStreamLines(root, ref.origin, ref.stream, w)) {
    for (let s = 0; s < block.length; ) {
      const lf = block.indexOf(LF, s);
      yield { ref, block, start: s, end: lf };
      s = lf + 1;
    }
  }
}

/**
 * The lines of the selected streams within the window, merged by receive time, as runs: a
 * single stream's blocks whole (so a reader can check and copy a block at once instead of
 * paying for a generator step per line), several streams' one line at a time.
 */
export async function* readRecordRuns(
  root: string,
  refs: readonly StreamRef[],
  w: Window,
): AsyncGenerator<LineRun> {
  if (refs.length === 1) {
    const ref = refs[0]!;
    for await (const block of readStreamLines(root, ref.origin, ref.stream, w)) {
      yield { ref, block, start: 0, end: block.length };
    }
    return;
  }
  for await (const v of mergeLines(root, refs, w))
    yield { ref: v.ref, block: v.block, start: v.start, end: v.end + 1 };
}

/**
 * Every line of the selected streams within the window, merged by receive time. The generator
 * is the merge or the block walk itself, with no layer in between: one step per line.
 */
export function readRecords(root: string, refs: readonly StreamRef[], w: Window): AsyncGenerator<LineView> {
  return refs.length === 1 ? streamLines(root, refs[0]!, w) : mergeLines(root, refs, w);
}
