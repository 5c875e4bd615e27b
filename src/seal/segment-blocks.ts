// Whole-line blocks of one segment for `verify`, which reads every stored byte once and hashes
// it: a plain segment is read in large chunks into two buffers taken in turn, the next read in
// flight while the caller hashes the block before, and only a line cut by a chunk's end is
// copied (to the start of the other buffer). store/read.ts's readSegmentLines, which serves
// time windows, concatenates every chunk with the line before it; on the peerbench corpus that
// copy and the waits for the disk cost verify a fifth of its time. Same blocks otherwise: bytes
// after the file's last LF (a writer's unfinished line) are left out, and a segment compressed
// since it was listed is read as such. Compressed segments go through readSegmentLines whole.

import { join } from "node:path";
import { openIfPresent } from "../store/files.ts";
import { readSegmentLines, type SegmentView } from "../store/read.ts";
import { LF } from "../store/record.ts";

/** Bytes asked of one read: large enough that a read costs little next to hashing it. */
const CHUNK = 4 * 1024 * 1024;

/**
 * The blocks of `seg` (in the stream directory `dir`), each ending with LF. A block is valid
 * until the caller asks for the next one. `chunk` is for tests (lines cut at every size).
 */
export async function* segmentBlocks(dir: string, seg: SegmentView, chunk = CHUNK): AsyncGenerator<Buffer> {
  if (seg.compressed) {
    yield* readSegmentLines(dir, seg, {});
    return;
  }
  const path = join(dir, seg.file);
  const fh = await openIfPresent(path);
  if (fh === null) {
    yield* readSegmentLines(dir, seg, {}); // compressed since it was listed: read.ts finds the .zst
    return;
  }
  let pending: Promise<{ bytesRead: number }> = Promise.resolve({ bytesRead: 0 });
  try {
    const { size } = await fh.stat();
    let bufs = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
    let cur = 0;
    /** Bytes at the start of bufs[cur] carried over from the chunk before (a cut line). */
    let carried = 0;
    let pos = 0;
    const readInto = (k: number, at: number) => {
      const want = Math.min(bufs[k]!.length - at, size - pos);
      const p = want > 0 ? fh.read(bufs[k]!, at, want, pos) : Promise.resolve({ bytesRead: 0 });
      pos += Math.max(0, want);
      return p;
    };
    pending = readInto(cur, 0);
    for (;;) {
      const { bytesRead } = await pending;
      const filled = carried + bytesRead;
      const buf = bufs[cur]!;
      if (bytesRead === 0) return; // end of file: a carried unfinished line is left out
      const lastLf = buf.lastIndexOf(LF, filled - 1);
      const next = 1 - cur;
      if (lastLf === -1) {
        // one line longer than a chunk (rare): both buffers grow to hold it and a chunk more
        const bigger = Buffer.allocUnsafe(filled + chunk);
        buf.copy(bigger, 0, 0, filled);
        bufs =
          cur === 0
            ? [bigger, Buffer.allocUnsafe(filled + chunk)]
            : [Buffer.allocUnsafe(filled + chunk), bigger];
        carried = filled;
        pending = readInto(cur, carried);
        continue;
      }
      // the cut line goes to the other buffer, whose read starts at once, before this block is hashed
      carried = filled - (lastLf + 1);
      if (bufs[next]!.length < carried + chunk) bufs[next] = Buffer.allocUnsafe(carried + chunk);
      buf.copy(bufs[next]!, 0, lastLf + 1, filled);
      pending = readInto(next, carried);
      yield buf.subarray(0, lastLf + 1);
      cur = next;
    }
  } finally {
    // a caller that stops early (verify's first failure) leaves a read in flight
    await pending.catch(() => {});
    await fh.close();
  }
}
