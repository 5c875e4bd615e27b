// The record line, format version 1 (docs/FORMAT.md):
//
//   <time> SP <seq> SP <kind>[@<ref>] SP <escaped payload> LF
//
//   time     collector receive time, UTC, microseconds: 2026-11-24T09:16:19.123456Z (27 bytes)
//   seq      per-stream sequence number, decimal, from 1, +1 per record, never reused
//   kind     "."  a record the sender sent
//            "!" + lowercase name: a record the collector made (open, close, gap, trunc, ...)
//   ref      optional resume reference of a sender record (agent sequence, journal cursor):
//            printable ASCII without space, at most 256 bytes
//   payload  the sender's bytes, escaped (escape.ts): never contains LF, CR, ESC, NUL
//
// The kind is written by the collector before the payload and the payload cannot contain a
// line feed, so no byte sequence a sender controls can produce a "!" record or a second line.

export const FORMAT_VERSION = 1;
export const TIME_LEN = 27;
export const LF = 0x0a;
const SPACE = 0x20;

export const DATA_KIND = ".";
/** The kinds of record the collector itself writes. */
export const COLLECTOR_KINDS = [
  "open",
  "close",
  "gap",
  "trunc",
  "nolf",
  "blob",
  "evict",
  "note",
  "seal",
] as const;
export type CollectorKind = (typeof COLLECTOR_KINDS)[number];

export const MAX_REF_BYTES = 256;
const REF_RE = /^[\x21-\x7e]{1,256}$/;

export function isValidRef(ref: string): boolean {
  return REF_RE.test(ref);
}

/** Formats microseconds since the epoch as the 27-byte receive time. */
export function formatTime(us: number): string {
  const sec = Math.floor(us / 1e6);
  if (sec !== formattedSecond) {
    // "2026-11-24T09:16:19." once a second: with many trickling streams each record's stamp is
    // a new millisecond of its own stream, and toISOString per record showed in the profile
    formattedSecond = sec;
    secondPrefix = new Date(sec * 1000).toISOString().slice(0, 20);
  }
  const frac = us - sec * 1e6;
  return `${secondPrefix}${frac < 10 ? "00000" : frac < 100 ? "0000" : frac < 1000 ? "000" : frac < 10000 ? "00" : frac < 100000 ? "0" : ""}${frac}Z`;
}

/** The second formatTime formatted last, and its text up to the fraction. */
let formattedSecond = Number.NaN;
let secondPrefix = "";

const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** Parses a 27-byte receive time back to microseconds, or NaN if it is not one. */
export function parseTime(s: string): number {
  if (!TIME_RE.test(s)) return Number.NaN;
  const ms = Date.parse(`${s.slice(0, 23)}Z`);
  return ms * 1000 + Number(s.slice(23, 26));
}

export interface ParsedLine {
  time: string;
  seq: number;
  /** "." or "!name" */
  kind: string;
  ref: string | undefined;
  /** Offsets of the escaped payload in the buffer the line was parsed from. */
  payloadStart: number;
  payloadEnd: number;
}

/**
 * Parses one stored line `buf[start, end)` (without its LF). Returns null for anything that is
 * not a well-formed version-1 line, so readers and recovery never trust a damaged line.
 */
export function parseLine(buf: Buffer, start: number, end: number): ParsedLine | null {
  const timeEnd = start + TIME_LEN;
  if (end < timeEnd + 4 || buf[timeEnd] !== SPACE) return null;
  const time = buf.toString("latin1", start, timeEnd);
  if (!TIME_RE.test(time)) return null;
  let i = timeEnd + 1;
  let seq = 0;
  const seqStart = i;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39 && i - seqStart < 16) {
    seq = seq * 10 + (buf[i]! - 0x30);
    i++;
  }
  // 16 digits can pass 2^53: no seq logward writes, and no longer exact as a number
  if (i === seqStart || i >= end || buf[i] !== SPACE || seq === 0 || buf[seqStart] === 0x30) return null;
  if (!Number.isSafeInteger(seq)) return null;
  i++;
  const kindStart = i;
  while (i < end && buf[i] !== SPACE) i++;
  if (i >= end) return null; // no space before the payload (an empty payload still has the space)
  const field = buf.toString("latin1", kindStart, i);
  const at = field.indexOf("@");
  const kind = at === -1 ? field : field.slice(0, at);
  const ref = at === -1 ? undefined : field.slice(at + 1);
  if (kind !== DATA_KIND && !/^![a-z]{1,16}$/.test(kind)) return null;
  if (ref !== undefined && !isValidRef(ref)) return null;
  return { time, seq, kind, ref, payloadStart: i + 1, payloadEnd: end };
}

/** Reads just the sequence number of the line starting at `start` (for splitting buffers). */
export function seqAt(buf: Uint8Array, start: number): number {
  let i = start + TIME_LEN + 1;
  let seq = 0;
  while (buf[i]! >= 0x30 && buf[i]! <= 0x39) {
    seq = seq * 10 + (buf[i]! - 0x30);
    i++;
  }
  return seq;
}

/** Reads the receive time of the line starting at `start`. */
export function timeAt(buf: Buffer, start: number): string {
  return buf.toString("latin1", start, start + TIME_LEN);
}

/** Writes a non-negative integer as decimal digits at `pos`; returns the new position. */
export function writeDecimal(dst: Uint8Array, pos: number, n: number): number {
  if (n < 10) {
    dst[pos] = 0x30 + n;
    return pos + 1;
  }
  let digits = 0;
  for (let v = n; v > 0; v = Math.floor(v / 10)) digits++;
  let p = pos + digits - 1;
  for (let v = n; v > 0; v = Math.floor(v / 10)) {
    dst[p--] = 0x30 + (v % 10);
  }
  return pos + digits;
}

const DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25];
const FIXED_BYTES: [number, number][] = [
  [4, 0x2d],
  [7, 0x2d],
  [10, 0x54],
  [13, 0x3a],
  [16, 0x3a],
  [19, 0x2e],
  [26, 0x5a],
  [27, 0x20],
];

/**
 * Fast structural check of a stored line `buf[start, end)` for recovery: time layout, a
 * decimal sequence number, a valid kind field. Returns the sequence number, or -1. The payload
 * is checked separately (escape.ts isDisplaySafe).
 */
export function checkLineHead(
  buf: Uint8Array,
  start: number,
  end: number,
): { seq: number; payloadStart: number } | null {
  if (end - start < TIME_LEN + 4) return null;
  for (const p of DIGIT_POSITIONS) {
    const c = buf[start + p]!;
    if (c < 0x30 || c > 0x39) return null;
  }
  for (const [p, v] of FIXED_BYTES) if (buf[start + p] !== v) return null;
  let i = start + TIME_LEN + 1;
  if (buf[i] === 0x30) return null;
  let seq = 0;
  const seqStart = i;
  while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39 && i - seqStart < 16)
    seq = seq * 10 + (buf[i++]! - 0x30);
  if (i === seqStart || buf[i] !== SPACE || !Number.isSafeInteger(seq)) return null;
  i++;
  const k = buf[i];
  if (k === 0x2e) i++;
  else if (k === 0x21) {
    const nameStart = ++i;
    while (i < end && buf[i]! >= 0x61 && buf[i]! <= 0x7a) i++;
    if (i === nameStart || i - nameStart > 16) return null;
  } else return null;
  if (buf[i] === 0x40) {
    const refStart = ++i;
    while (i < end && buf[i]! > 0x20 && buf[i]! < 0x7f) i++;
    if (i === refStart || i - refStart > MAX_REF_BYTES) return null;
  }
  if (i >= end || buf[i] !== SPACE) return null;
  return { seq, payloadStart: i + 1 };
}
