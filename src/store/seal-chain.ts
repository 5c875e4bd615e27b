// One stream's running seal chain, kept by its writer while the store seals (StoreOptions.seal):
// the SHA-256 of every stored byte since the stream's last `!seal` line, how many bytes that is,
// the seq of the first of them and the MAC of that seal. The writer feeds it the bytes it is
// about to write, in order (stream-writer.ts, flush), and appendSeal turns it into the next
// `!seal` (seal-format.ts). After a restart, `resumeChain` reads the stream back to its last
// seal so the next seal covers what came after it, a crash's unsealed tail included.

import { createHash, type Hash } from "node:crypto";
import { readSegmentLines, type SegmentView } from "./read.ts";
import { GENESIS, nextSealLine, parseSealLine, type SealLine } from "./seal-format.ts";

export class SealChain {
  /** Seq of the first line the next seal covers. */
  first: number;
  /** MAC of the seal before (GENESIS for a stream's first). */
  prev: string;
  /** Bytes fed since that seal. */
  bytes = 0;
  /** How many bytes at the start of the writer's pending buffer are fed already. */
  hashed = 0;
  private hash: Hash = createHash("sha256");

  constructor(first: number, prev: string) {
    this.first = first;
    this.prev = prev;
  }

  feed(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.hash.update(buf.subarray(start, end));
    this.bytes += end - start;
  }

  /** The digest of what was fed, then a fresh chain after the seal `seq` whose MAC is `mac`. */
  close(seq: number, mac: string): void {
    this.first = seq + 1;
    this.prev = mac;
    this.bytes = 0;
    this.hash = createHash("sha256");
  }

  digest(): string {
    return this.hash.copy().digest("hex");
  }
}

/**
 * The chain of a stream as its files left it: after its last seal line, with every byte after
 * that line fed. Reads segments from the newest back until one holds a seal, then forward again.
 * A stream with no seal at all starts a new chain at `nextSeq` (GENESIS): its older records
 * were stored before the store sealed and stay unsealed, which `verify` reports as such.
 */
export async function resumeChain(
  dir: string,
  segs: readonly SegmentView[],
  nextSeq: number,
): Promise<SealChain> {
  for (let k = segs.length - 1; k >= 0; k--) {
    const found = await lastSealIn(dir, segs[k]!);
    if (!found) continue;
    const chain = found;
    for (let j = k + 1; j < segs.length; j++)
      for await (const block of readSegmentLines(dir, segs[j]!, {})) chain.feed(block, 0, block.length);
    return chain;
  }
  return new SealChain(nextSeq, GENESIS);
}

/** The chain after the segment's last seal line, fed with the rest of the segment; null without one. */
async function lastSealIn(dir: string, seg: SegmentView): Promise<SealChain | null> {
  return (await scanSegment(dir, seg, true))?.chain ?? null;
}

/** The newest `!seal` of a stream (for `logward checkpoint`), or null if it has none. */
export async function findLastSeal(dir: string, segs: readonly SegmentView[]): Promise<SealLine | null> {
  for (let k = segs.length - 1; k >= 0; k--) {
    const found = await scanSegment(dir, segs[k]!, false);
    if (found) return found.seal;
  }
  return null;
}

async function scanSegment(
  dir: string,
  seg: SegmentView,
  feed: boolean,
): Promise<{ chain: SealChain; seal: SealLine } | null> {
  let found: { chain: SealChain; seal: SealLine } | null = null;
  for await (const block of readSegmentLines(dir, seg, {})) {
    let pos = 0;
    for (let s = nextSealLine(block, 0); s; s = nextSealLine(block, s.end + 1)) {
      const seal = parseSealLine(block.toString("latin1", s.start, s.end));
      if (!seal) continue;
      found ??= { chain: new SealChain(0, GENESIS), seal };
      found.seal = seal;
      found.chain.close(seal.seq, seal.mac);
      pos = s.end + 1;
    }
    if (feed) found?.chain.feed(block, pos, block.length);
  }
  return found;
}
