// The start of one record that spans chunks, held up to the record limit; bytes past the limit
// are counted, never stored. The syslog and RELP framers share it (lines.ts and octets.ts hold
// the same logic inline, from before it was shared). The buffer grows by doubling from MIN_CARRY
// at most to the limit, so an idle connection holds little and a busy one never more than one
// record.

/**
 * The smallest carry buffer: a connection holds none until a record spans two of its chunks,
 * then a few KiB, doubling up to the record limit only for a record that long (500 trickling
 * origins held 64 KiB each up front: 32 MiB for nothing).
 */
export const MIN_CARRY = 4096;
export const NO_BYTES = Buffer.alloc(0);

export class Carry {
  private readonly limit: number;
  private buf: Buffer;
  /** Bytes held: the record's first bytes, at most `limit`. */
  length = 0;
  /** Bytes of the record seen beyond what is held. */
  overflow = 0;

  constructor(limit: number) {
    this.limit = limit;
    this.buf = NO_BYTES; // allocated by the first record that spans chunks
  }

  /** Every byte seen of the record so far, held or not. */
  get seen(): number {
    return this.length + this.overflow;
  }

  /** Appends `chunk[s, e)`: what fits under the limit is copied, the rest counted. */
  add(chunk: Buffer, s: number, e: number): void {
    const take = Math.min(this.limit - this.length, e - s);
    if (take > 0) {
      if (this.length + take > this.buf.length) {
        const grown = Buffer.allocUnsafe(
          Math.min(this.limit, Math.max(MIN_CARRY, this.buf.length * 2, this.length + take)),
        );
        this.buf.copy(grown, 0, 0, this.length);
        this.buf = grown;
      }
      chunk.copy(this.buf, this.length, s, s + take);
      this.length += take;
    }
    this.overflow += e - s - Math.max(take, 0);
  }

  /** The held bytes, a view valid until the next add() or clear(). */
  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
    this.overflow = 0;
  }
}
