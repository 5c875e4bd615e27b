// `logward verify`: checks a store's seals (docs/SEALS.md) with the verification key alone,
// reading the files without the writer lock (a copied store verifies the same). Per stream, one
// pass over its stored lines in order: every byte between two `!seal` lines is hashed and must
// match what the later seal says, each seal must be authentic (its MAC under the sealing key of
// its epoch, derived from the verification key) and follow the one before (`prev`, `first`).
// A removed head (quota, retention, `rm --before`) is accepted only when an `!evict` record in
// the stream names it; what cannot be verified (a tail not sealed yet, records stored before
// sealing began, records sealed together with removed ones) is counted and reported, never
// taken as intact. On the first failure a second pass over the failing interval says why.
//
// About 450 lines on purpose: the pass, the checks of one seal and the classification of a
// failure share one stream's report and the reasons it can give; split, each would need the
// others' state passed around.

import { createHash, type Hash } from "node:crypto";
import { streamDir } from "../store/names.ts";
import { readSegmentLines, type SegmentView, streamSegments } from "../store/read.ts";
import { LF, seqAt, TIME_LEN } from "../store/record.ts";
import { GENESIS, nextSealLine, parseSealLine, type SealLine } from "../store/seal-format.ts";
import type { KeyDeriver } from "./key.ts";
import { sealProblem } from "./seal-checks.ts";
import { segmentBlocks } from "./segment-blocks.ts";

export type Why =
  | "changed"
  | "missing"
  | "reordered"
  | "inserted"
  | "truncated"
  | "forged"
  | "other key"
  | "sealed late"
  | "removed without record";

export interface Problem {
  origin: string;
  stream: string;
  /** The segment file where the bad range starts ("" when none is left). */
  segment: string;
  from: number;
  to: number;
  why: Why;
  detail: string;
}

export interface StreamReport {
  origin: string;
  stream: string;
  /** Stored records, and the seqs of the first and last. */
  records: number;
  firstSeq: number;
  lastSeq: number;
  seals: number;
  /** Records whose bytes a verified seal covers. */
  sealedRecords: number;
  sealedBytes: number;
  epochs: [number, number] | null;
  /** Records after the last seal: not sealed yet (or the collector was killed). */
  unsealedTail: number;
  /** Records before the chain's first verifiable seal, and why they cannot be verified. */
  unverifiedHead: { records: number; why: "before sealing began" | "sealed with removed records" } | null;
  /** The head was removed: up to which seq, and the `!evict` reason that records it. */
  removed: { through: number; reason: string } | null;
  lastSeal: { seq: number; mac: string } | null;
  /** The MACs of the verified seals at the seqs asked for (a checkpoint's). */
  watched: Map<number, string>;
  problem: Problem | null;
}

interface Evict {
  lastSeq: number;
  reason: string;
}

const EVICT_KIND = Buffer.from("!evict ", "latin1");

/**
 * The `!evict` lines of a block that name a removed segment (first_seq=… last_seq=…). Looks
 * for the byte "!" (memchr) and then the word, as seal-format.ts's nextSealLine does: a search
 * for the whole word took as long as hashing the block.
 */
function evictionsIn(block: Buffer, out: Evict[]): void {
  for (let bang = block.indexOf(0x21, 1); bang !== -1; bang = block.indexOf(0x21, bang + 1)) {
    if (
      block[bang - 1] !== 0x20 ||
      bang + EVICT_KIND.length > block.length ||
      block.compare(EVICT_KIND, 0, EVICT_KIND.length, bang, bang + EVICT_KIND.length) !== 0
    )
      continue;
    const at = bang - 1;
    const start = block.lastIndexOf(LF, at) + 1;
    const end = block.indexOf(LF, at);
    // the kind must be the line's third field: "time seq !evict"
    const head = block.toString("latin1", start, bang + EVICT_KIND.length);
    if (!/^\S{27} [1-9][0-9]* !evict $/.test(head)) continue;
    const text = block.toString("latin1", bang + EVICT_KIND.length, end === -1 ? block.length : end);
    const m = /(?:^| )last_seq=([1-9][0-9]*)(?: |$)/.exec(text);
    const r = /(?:^| )reason=([a-z]+)/.exec(text);
    if (m && /(?:^| )first_seq=/.test(text)) out.push({ lastSeq: Number(m[1]), reason: r?.[1] ?? "?" });
  }
}

/** One line of a re-read: its seq (-1 if it has none), bytes and segment. */
interface Line {
  seq: number;
  start: number;
  end: number;
  block: Buffer;
  segment: string;
}

/** The kind field of a line ("." or "!name"), "" if it has none. */
function kindOf(l: Line): string {
  const head = l.block.toString("latin1", l.start, Math.min(l.end, l.start + TIME_LEN + 40));
  return /^\S{27} [0-9]+ ([^ @\n]+)/.exec(head)?.[1] ?? "";
}

async function* lines(dir: string, segs: readonly SegmentView[]): AsyncGenerator<Line> {
  for (const seg of segs) {
    for await (const block of readSegmentLines(dir, seg, {})) {
      for (let s = 0; s < block.length; ) {
        const e = block.indexOf(LF, s);
        const end = e === -1 ? block.length : e + 1;
        const seq = end - s > TIME_LEN + 2 ? seqAt(block, s) : -1;
        yield { seq: Number.isFinite(seq) ? seq : -1, start: s, end, block, segment: seg.file };
        s = end;
      }
    }
  }
}

export class StoreVerifier {
  private readonly root: string;
  private readonly keys: KeyDeriver;
  private readonly onBytes: (n: number) => void;
  /** Seals made long after their first record count as intact (`verify --allow-late`). */
  private readonly allowLate: boolean;

  constructor(root: string, keys: KeyDeriver, onBytes: (n: number) => void = () => {}, allowLate = false) {
    this.root = root;
    this.keys = keys;
    this.onBytes = onBytes;
    this.allowLate = allowLate;
  }

  /** Verifies one stream; the report's `problem` names the first failure. */
  async stream(
    origin: string,
    stream: string,
    watch: ReadonlySet<number> = new Set(),
  ): Promise<StreamReport> {
    const dir = streamDir(this.root, origin, stream);
    // the index's frames are not trusted: each compressed segment is read whole
    const segs = (await streamSegments(this.root, origin, stream)).map((x) => ({ ...x, frames: undefined }));
    const r: StreamReport = {
      origin,
      stream,
      records: 0,
      firstSeq: 0,
      lastSeq: 0,
      seals: 0,
      sealedRecords: 0,
      sealedBytes: 0,
      epochs: null,
      unsealedTail: 0,
      unverifiedHead: null,
      removed: null,
      lastSeal: null,
      watched: new Map(),
      problem: null,
    };
    const fail = (segment: string, from: number, to: number, why: Why, detail: string) => {
      r.problem ??= { origin, stream, segment, from, to, why, detail };
    };
    const evicts: Evict[] = [];
    let hash: Hash = createHash("sha256");
    let bytes = 0;
    let prev: SealLine | null = null;
    /** Segment where the current interval (since the last seal) began. */
    let intervalSegment = segs[0]?.file ?? "";
    let lastLineSeq = 0;
    /** Receive time of the first record since the last seal. */
    let firstTime: string | null = null;
    outer: for (const seg of segs) {
      if (bytes === 0) intervalSegment = seg.file;
      for await (const block of segmentBlocks(dir, seg)) {
        this.onBytes(block.length);
        if (r.firstSeq === 0 && block.length > TIME_LEN + 2) r.firstSeq = seqAt(block, 0);
        evictionsIn(block, evicts);
        let pos = 0;
        for (let s = nextSealLine(block, 0); s; s = nextSealLine(block, s.end + 1)) {
          if (s.start > pos) {
            if (firstTime === null) firstTime = block.toString("latin1", pos, pos + TIME_LEN);
            hash.update(block.subarray(pos, s.start));
            bytes += s.start - pos;
          }
          const text = block.toString("latin1", s.start, s.end);
          const seal = parseSealLine(text);
          const seqHere = seqAt(block, s.start);
          if (!seal) {
            fail(
              seg.file,
              seqHere,
              seqHere,
              "forged",
              `the line at seq ${seqHere} has the kind !seal but is not a seal logward writes`,
            );
            break outer;
          }
          const digest = hash.digest("hex");
          const ok = await this.checkSeal(
            r,
            dir,
            segs,
            seal,
            prev,
            digest,
            bytes,
            seg.file,
            intervalSegment,
            firstTime,
            fail,
          );
          if (!ok) break outer;
          if (watch.has(seal.seq)) r.watched.set(seal.seq, seal.mac);
          prev = seal;
          hash = createHash("sha256");
          bytes = 0;
          pos = s.end + 1;
          intervalSegment = seg.file;
          firstTime = null;
        }
        if (pos < block.length) {
          if (firstTime === null) firstTime = block.toString("latin1", pos, pos + TIME_LEN);
          hash.update(block.subarray(pos));
          bytes += block.length - pos;
        }
        const lastStart = block.lastIndexOf(LF, block.length - 2) + 1;
        lastLineSeq = seqAt(block, lastStart);
      }
    }
    r.lastSeq = lastLineSeq;
    r.records = r.firstSeq > 0 ? lastLineSeq - r.firstSeq + 1 : 0;
    if (r.problem) return r;
    if (prev) {
      r.lastSeal = { seq: prev.seq, mac: prev.mac };
      r.unsealedTail = Math.max(0, lastLineSeq - prev.seq);
    } else {
      r.unsealedTail = r.records;
    }
    // a removed head must be on the record: the `!evict` of the segment just before the first kept
    if (r.firstSeq > 1) {
      const e = evicts.find((x) => x.lastSeq === r.firstSeq - 1);
      if (e) r.removed = { through: e.lastSeq, reason: e.reason };
      else
        fail(
          segs[0]?.file ?? "",
          1,
          r.firstSeq - 1,
          "removed without record",
          `records 1 to ${r.firstSeq - 1} are gone and no !evict record of the stream names their removal`,
        );
    }
    return r;
  }

  /** Checks one seal against the interval before it; false (after `fail`) if it does not hold. */
  private async checkSeal(
    r: StreamReport,
    dir: string,
    segs: readonly SegmentView[],
    seal: SealLine,
    prev: SealLine | null,
    digest: string,
    bytes: number,
    segment: string,
    intervalSegment: string,
    firstTime: string | null,
    fail: (segment: string, from: number, to: number, why: Why, detail: string) => void,
  ): Promise<boolean> {
    const where = `the seal at seq ${seal.seq}`;
    const bad = sealProblem(this.keys, r.origin, r.stream, seal, prev, firstTime, this.allowLate);
    if (bad) {
      fail(bad.why === "sealed late" ? intervalSegment : segment, seal.first, seal.seq, bad.why, bad.detail);
      return false;
    }
    let matched = digest === seal.sha256 && bytes === seal.bytes;
    if (prev) {
      if (seal.prev !== prev.mac || seal.first !== prev.seq + 1) {
        fail(
          segment,
          prev.seq,
          seal.seq,
          "missing",
          `${where} does not follow the seal at seq ${prev.seq}: a seal between them is missing, or seals were moved`,
        );
        return false;
      }
    } else if (seal.first === r.firstSeq) {
      // the chain's first seal covers the stream from its first kept record
      if (seal.prev !== GENESIS) r.unverifiedHead = null;
    } else if (seal.first > r.firstSeq) {
      if (seal.prev !== GENESIS) {
        fail(
          segment,
          r.firstSeq,
          seal.seq,
          "missing",
          `the seal before ${where} (at seq ${seal.first - 1}) is missing`,
        );
        return false;
      }
      // sealing began at seal.first: the records before it were stored earlier
      r.unverifiedHead = { records: seal.first - r.firstSeq, why: "before sealing began" };
      const again = await this.hashRange(dir, segs, seal.first, seal.last);
      matched = again.digest === seal.sha256 && again.bytes === seal.bytes;
    } else {
      // sealed together with records removed since (the head's removal is checked at the end)
      r.unverifiedHead = { records: seal.seq - r.firstSeq, why: "sealed with removed records" };
      matched = true;
    }
    if (!matched) {
      const c = await this.classify(dir, segs, prev ? prev.seq : 0, seal);
      fail(
        c.segment || intervalSegment,
        seal.first,
        seal.last,
        c.why,
        `${c.detail} (${where}, epoch ${seal.epoch}, covers records ${seal.first} to ${seal.last})`,
      );
      return false;
    }
    r.seals++;
    if (r.unverifiedHead?.why !== "sealed with removed records" || r.seals > 1) {
      r.sealedRecords += seal.last - seal.first + 1;
      r.sealedBytes += seal.bytes;
    }
    r.epochs = r.epochs ? [r.epochs[0], seal.epoch] : [seal.epoch, seal.epoch];
    return true;
  }

  /** SHA-256 and length of the lines with seq from..to (a second read, rare). */
  private async hashRange(dir: string, segs: readonly SegmentView[], from: number, to: number) {
    const h = createHash("sha256");
    let bytes = 0;
    for await (const l of lines(
      dir,
      segs.filter((s) => s.lastSeq >= from),
    )) {
      if (l.seq < from) continue;
      if (l.seq > to) break;
      h.update(l.block.subarray(l.start, l.end));
      bytes += l.end - l.start;
    }
    return { digest: h.digest("hex"), bytes };
  }

  /**
   * Why an interval does not match its seal: reads the lines after the seal at `after` (or from
   * the stream's start when `after` is 0) up to this seal's line, and compares their seqs with
   * first..last.
   */
  private async classify(
    dir: string,
    segs: readonly SegmentView[],
    after: number,
    seal: SealLine,
  ): Promise<{ why: Why; detail: string; segment: string }> {
    let started = after === 0;
    const seen: { seq: number; segment: string }[] = [];
    for await (const l of lines(dir, segs)) {
      const sealHere = kindOf(l) === "!seal";
      if (!started) {
        if (l.seq === after && sealHere) started = true;
        continue;
      }
      if (l.seq === seal.seq && sealHere) break;
      if (seen.length < 10_000_000) seen.push({ seq: l.seq, segment: l.segment });
    }
    const want = seal.last - seal.first + 1;
    const inRange = (q: number) => q >= seal.first && q <= seal.last;
    const stray = seen.find((x) => !inRange(x.seq));
    if (stray)
      return {
        why: "inserted",
        detail: `a line that is not one of records ${seal.first} to ${seal.last} is among them (seq ${stray.seq})`,
        segment: stray.segment,
      };
    const present = new Set(seen.map((x) => x.seq));
    if (present.size < want) {
      let q = seal.first;
      while (present.has(q)) q++;
      let e = q;
      while (e + 1 <= seal.last && !present.has(e + 1)) e++;
      const at = seen.find((x) => x.seq > q) ?? seen.at(-1);
      return { why: "missing", detail: `records ${q} to ${e} are missing`, segment: at?.segment ?? "" };
    }
    for (let k = 0; k < seen.length; k++) {
      if (seen[k]!.seq !== seal.first + k)
        return {
          why: "reordered",
          detail: `record ${seen[k]!.seq} stands where record ${seal.first + k} belongs: lines were swapped, duplicated or moved`,
          segment: seen[k]!.segment,
        };
    }
    return { why: "changed", detail: "a record's bytes differ from what was sealed", segment: "" };
  }
}
