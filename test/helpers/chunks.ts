// Cutting a byte stream into chunks at chosen points: framer and decoder tests feed the same
// bytes cut every way to show that where a chunk ends never changes what is decoded.

/** Cuts `bytes` into chunks at the given points (any order, taken modulo its length + 1, duplicates ignored). */
export function chunks(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let s = 0;
  for (const p of [...points, bytes.length]) {
    if (p > s) out.push(bytes.subarray(s, p));
    s = Math.max(s, p);
  }
  return out;
}
