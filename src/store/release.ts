// Giving a buffer's memory back at once, instead of when V8 next collects its young generation.
//
// A Buffer's bytes live outside the JavaScript heap, in an ArrayBuffer that is freed only once
// the collector finds the Buffer unreachable. Node reads every socket into a fresh ArrayBuffer
// (up to 64 KiB), and a pending buffer that grows leaves its old one behind. With the collector's
// 1 MiB young generation a collection came only every ~1 MiB of JavaScript allocation, by when
// 20 busy streams had left 20-35 MiB of spent buffers (npm run bench's 20 streams: peak RSS
// 117-124 MiB, 100-104 MiB with these released; docs/SCALING.md).

/**
 * Frees `buf`'s memory now (detaching its ArrayBuffer), if `buf` is the whole of that
 * ArrayBuffer: a view into a larger one, a pooled Buffer or an empty one is left alone, since
 * something else may read it. The caller promises that no other view of `buf` is used again:
 * a detached view reads as empty.
 */
export function releaseBuffer(buf: Buffer): void {
  const ab = buf.buffer;
  if (buf.byteLength === 0 || buf.byteOffset !== 0 || buf.byteLength !== ab.byteLength) return;
  if (!(ab instanceof ArrayBuffer) || ab.detached) return;
  try {
    ab.transfer(0);
  } catch {
    // not detachable (memory Node or WebAssembly owns): it is freed by the collector, as before
  }
}
