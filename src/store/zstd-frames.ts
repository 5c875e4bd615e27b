// Decompressing every frame of a zstd buffer. A .log.zst is many independent frames
// (compress.ts), and Node's zstd decompressors stop after the first frame of a buffer without
// an error, so a reader that does not know where the frames start (a segment without its index
// entry, or one compressed since it was listed) decodes them one at a time, each from where the
// last one ended (the engine's bytesWritten), up to the end or to a frame that is damaged.

import { type ZstdOptions, zstdDecompress, zstdDecompressSync } from "node:zlib";

/** What `{ info: true }` makes zlib return: the output and the engine, which counted its input. */
interface Decoded {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

/** The text of the frames that decoded, and the error of the first that did not (null: all did). */
export interface DecodedFrames {
  text: Buffer;
  error: unknown;
}

const INFO = { info: true } as ZstdOptions;

function decodeOne(data: Buffer): Promise<Decoded> {
  return new Promise((resolve, reject) => {
    zstdDecompress(data, INFO, (err, out) => (err ? reject(err) : resolve(out as unknown as Decoded)));
  });
}

function stuck(): Error {
  return new Error("a zstd frame that consumed no input");
}

/** One frame's decoding as the walk below is told it: its output, or what it threw. */
type Step = { decoded: Decoded } | { error: unknown };

/**
 * The walk over `data`'s frames, shared by the async and sync readers: it yields the bytes
 * from the next frame on, is handed back how decoding them went, and returns the result.
 */
function* walkFrames(data: Buffer): Generator<Buffer, DecodedFrames, Step> {
  const parts: Buffer[] = [];
  for (let pos = 0; pos < data.length; ) {
    const step = yield data.subarray(pos);
    if ("error" in step) return { text: Buffer.concat(parts), error: step.error };
    const d = step.decoded;
    if (!(d.engine.bytesWritten > 0)) return { text: Buffer.concat(parts), error: stuck() };
    parts.push(d.buffer);
    pos += d.engine.bytesWritten;
  }
  return { text: Buffer.concat(parts), error: null };
}

/** Every frame of `data`, on libuv's thread pool. */
export async function decompressFrames(data: Buffer): Promise<DecodedFrames> {
  const walk = walkFrames(data);
  let next = walk.next();
  while (!next.done) {
    const step: Step = await decodeOne(next.value).then(
      (decoded) => ({ decoded }),
      (error: unknown) => ({ error }),
    );
    next = walk.next(step);
  }
  return next.value;
}

/** Every frame of `data`, on this thread (recovery's slow path). */
export function decompressFramesSync(data: Buffer): DecodedFrames {
  const walk = walkFrames(data);
  let next = walk.next();
  while (!next.done) next = walk.next(decodeOneSync(next.value));
  return next.value;
}

function decodeOneSync(data: Buffer): Step {
  try {
    return { decoded: zstdDecompressSync(data, INFO) as unknown as Decoded };
  } catch (error) {
    return { error };
  }
}
