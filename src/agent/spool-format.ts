// The sender's spool on disk, byte for byte: segment names and the entries in them. Shared by
// the spool (`spool.ts`, which writes and recovers) and its reader (`spool-reader.ts`, which
// sends), so that each field is encoded and decoded in one place. The format is documented in
// docs/PROTOCOL.md, "The sender's spool":
//
//   <dir>/<20-digit seq>.spool    segments named by the first seq they may hold, entries of
//     <type: 1> <body length: 4 BE> <crc32 of the body, seeded with the type: 4 BE> <body>
//     'R' record      <seq: 8> <sender time µs: 8> <bytes>
//     'U' record      as 'R', for a record its source did not end with LF (sent as a 'U' frame)
//     'G' gap         <first seq: 8> <last seq: 8> <first µs: 8> <last µs: 8>: dropped records
//     'C' checkpoint  JSON {source: position}: where each source stood after the entries before it
//
// Seqs are unsigned and always safe integers (the spool numbers them); the gap's times are
// signed (the sender's clock, as given).

import { crc32 } from "node:zlib";
import { readU64, writeU64 } from "../wire/u64.ts";

export const T_REC = 0x52; // R
export const T_UNTERMINATED = 0x55; // U: a record no LF followed
export const T_GAP = 0x47; // G
export const T_CHECK = 0x43; // C
/** Type, body length and CRC before every body. */
export const ENTRY_HEAD = 9;
/** A record's body before its bytes: seq and sender time. */
const RECORD_FIELDS = 16;
const GAP_BODY = 32;
/** A whole gap entry, head and body. */
export const GAP_ENTRY_SIZE = ENTRY_HEAD + GAP_BODY;
/** Largest record the spool keeps: the collector's own maximum. */
export const MAX_SPOOL_RECORD = 1024 * 1024;

/** A range of dropped seqs and when (sender's clock, µs) the first and last of them came. */
export interface GapRange {
  first: number;
  last: number;
  firstUs: number;
  lastUs: number;
}

/** One segment file as the spool tracks it. */
export interface Segment {
  name: string;
  firstSeq: number;
  /** Highest seq in the segment (firstSeq - 1 while it has none). */
  lastSeq: number;
  /** Durable size: everything below it is fsync'd and may be sent. */
  size: number;
}

/** The file name of the segment whose first seq may be `seq`. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(20, "0")}.spool`;
}

/** True for a segment's file name (and so its first seq is `Number(name.slice(0, 20))`). */
export function isSegmentName(name: string): boolean {
  return /^\d{20}\.spool$/.test(name);
}

// ---- writing: each writer fills a region reserved at `at` of exactly the size it names ----

function entryHeader(buf: Buffer, at: number, type: number, bodyLen: number): void {
  buf[at] = type;
  buf.writeUInt32BE(bodyLen, at + 1);
}

function entryCrc(buf: Buffer, at: number, bodyLen: number): number {
  return crc32(buf.subarray(at + ENTRY_HEAD, at + ENTRY_HEAD + bodyLen), buf[at]!);
}

function sealEntry(buf: Buffer, at: number, bodyLen: number): void {
  buf.writeUInt32BE(entryCrc(buf, at, bodyLen), at + 5);
}

/** The size of a record entry holding `dataLen` bytes. */
export function recordEntrySize(dataLen: number): number {
  return ENTRY_HEAD + RECORD_FIELDS + dataLen;
}

/** Writes an R (or, `unterminated`, a U) entry; `us` is clamped to 0 and up. */
export function writeRecordEntry(
  buf: Buffer,
  at: number,
  seq: number,
  us: number,
  data: Uint8Array,
  unterminated: boolean,
): void {
  entryHeader(buf, at, unterminated ? T_UNTERMINATED : T_REC, RECORD_FIELDS + data.length);
  writeU64(buf, seq, at + ENTRY_HEAD);
  writeU64(buf, Math.max(0, us), at + ENTRY_HEAD + 8);
  buf.set(data, at + ENTRY_HEAD + RECORD_FIELDS);
  sealEntry(buf, at, RECORD_FIELDS + data.length);
}

/** Writes a G entry (GAP_ENTRY_SIZE bytes). */
export function writeGapEntry(buf: Buffer, at: number, g: GapRange): void {
  entryHeader(buf, at, T_GAP, GAP_BODY);
  const b = at + ENTRY_HEAD;
  buf.writeBigUInt64BE(BigInt(g.first), b);
  buf.writeBigUInt64BE(BigInt(g.last), b + 8);
  buf.writeBigInt64BE(BigInt(g.firstUs), b + 16);
  buf.writeBigInt64BE(BigInt(g.lastUs), b + 24);
  sealEntry(buf, at, GAP_BODY);
}

/** Writes a C entry of `json` (ENTRY_HEAD + json.length bytes). */
export function writeCheckpointEntry(buf: Buffer, at: number, json: Buffer): void {
  entryHeader(buf, at, T_CHECK, json.length);
  json.copy(buf, at + ENTRY_HEAD);
  sealEntry(buf, at, json.length);
}

// ---- reading ----

/** One entry as parsed from a segment; `body` is a view into the read buffer. */
export interface Entry {
  type: number;
  body: Buffer;
  /** Offset of the entry's end in its file. */
  end: number;
}

export function isRecordEntry(e: Entry): boolean {
  return e.type === T_REC || e.type === T_UNTERMINATED;
}

/** Parses whole, valid entries of `buf` (file offset `base`); stops at the first bad or partial one. */
export function parseEntries(buf: Buffer, base: number, out: Entry[]): number {
  let i = 0;
  while (buf.length - i >= ENTRY_HEAD) {
    const type = buf[i]!;
    const len = buf.readUInt32BE(i + 1);
    const rec = type === T_REC || type === T_UNTERMINATED;
    if ((!rec && type !== T_GAP && type !== T_CHECK) || len > MAX_SPOOL_RECORD + RECORD_FIELDS) return -1 - i;
    if (buf.length - i - ENTRY_HEAD < len) break;
    if (entryCrc(buf, i, len) !== buf.readUInt32BE(i + 5)) return -1 - i;
    if ((rec && len < RECORD_FIELDS) || (type === T_GAP && len !== GAP_BODY)) return -1 - i;
    out.push({
      type,
      body: buf.subarray(i + ENTRY_HEAD, i + ENTRY_HEAD + len),
      end: base + i + ENTRY_HEAD + len,
    });
    i += ENTRY_HEAD + len;
  }
  return i;
}

/** A record entry's seq. */
export function recordSeq(e: Entry): number {
  return readU64(e.body, 0);
}

/** A record entry's bytes. */
export function recordData(e: Entry): Buffer {
  return e.body.subarray(RECORD_FIELDS);
}

/** A gap entry's range. */
export function gapRange(e: Entry): GapRange {
  return {
    first: readU64(e.body, 0),
    last: readU64(e.body, 8),
    firstUs: Number(e.body.readBigInt64BE(16)),
    lastUs: Number(e.body.readBigInt64BE(24)),
  };
}

/** The seq an entry starts at (R: its seq; G: its first), or 0 for a checkpoint. */
export function entryFirstSeq(e: Entry): number {
  if (isRecordEntry(e) || e.type === T_GAP) return readU64(e.body, 0);
  return 0;
}

/** The seq an entry ends at (R: its seq; G: its last), or 0 for a checkpoint. */
export function entrySeq(e: Entry): number {
  if (isRecordEntry(e)) return readU64(e.body, 0);
  if (e.type === T_GAP) return readU64(e.body, 8);
  return 0;
}

/** The first seq in `buf`'s entries (a record's, or a gap's first), else `otherwise`. */
export function firstSeqIn(buf: Buffer, otherwise: number): number {
  const entries: Entry[] = [];
  parseEntries(buf, 0, entries);
  for (const e of entries) {
    const seq = entryFirstSeq(e);
    if (seq !== 0) return seq;
  }
  return otherwise;
}
