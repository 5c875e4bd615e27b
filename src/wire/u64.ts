// 64-bit big-endian unsigned integers as JavaScript numbers, for the agent protocol's seqs and
// the sender's spool entries: both hold values that are safe integers, and the hot path reads
// one per record, so they are built from two 32-bit halves rather than through BigInt.

/**
 * An unsigned 64-bit big-endian integer in the safe-integer range, from two 32-bit halves: no
 * BigInt per record on the hot path. Returns -1 above 2^53-1.
 */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi > 0x1fffff) return -1;
  return hi * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** Writes a non-negative safe integer as an unsigned 64-bit big-endian value. */
export function writeU64(buf: Buffer, n: number, at: number): void {
  buf.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at);
  buf.writeUInt32BE(n >>> 0, at + 4);
}
