// The `!seal` record (docs/FORMAT.md, "Seals"; docs/SEALS.md): its fields, the bytes its MAC
// covers, and how a reader finds seal lines in a block of stored lines. One module for the
// writer (stream-writer.ts appends seals), the collector's sealer and the verifier, so the three
// cannot disagree on a byte. Node's crypto only: HMAC-SHA-256 and SHA-256.
//
// A seal at seq S of ORIGIN/STREAM says: the stored lines with seq FIRST..LAST (= S-1), exactly
// BYTES bytes whose SHA-256 is SHA256, follow the seal whose MAC is PREV, and the sealing key of
// EPOCH (derived one way from the verification key KEY names) vouches for all of it and for the
// seal's own receive time.

import { createHmac, timingSafeEqual } from "node:crypto";
import { LF, TIME_LEN } from "./record.ts";

/** `prev` of a stream's first seal: nothing came before it. */
export const GENESIS = "0".repeat(64);

export interface SealFields {
  epoch: number;
  /** Names the verification key (16 hex digits, seal/key.ts): a store re-initialised says so. */
  key: string;
  first: number;
  last: number;
  bytes: number;
  sha256: string;
  prev: string;
}

export interface SealLine extends SealFields {
  time: string;
  seq: number;
  mac: string;
}

/** The sealing key of one epoch, as the writer gets it. */
export interface EpochKey {
  epoch: number;
  keyId: string;
  key: Buffer;
}

/** What `mac` is computed over: a version line, then every field, each ended by LF. */
export function macInput(origin: string, stream: string, seq: number, time: string, f: SealFields): string {
  return (
    `logward-seal 1\n${origin}\n${stream}\n${seq}\n${time}\n${f.epoch}\n${f.key}\n` +
    `${f.first}\n${f.last}\n${f.bytes}\n${f.sha256}\n${f.prev}\n`
  );
}

export function sealMac(
  key: Buffer,
  origin: string,
  stream: string,
  seq: number,
  time: string,
  f: SealFields,
): string {
  return createHmac("sha256", key)
    .update(macInput(origin, stream, seq, time, f))
    .digest("hex");
}

/** True if `mac` (hex) is the MAC of this seal under `key`; compared in constant time. */
export function macMatches(key: Buffer, origin: string, stream: string, s: SealLine): boolean {
  const want = Buffer.from(sealMac(key, origin, stream, s.seq, s.time, s), "hex");
  const got = Buffer.from(s.mac, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The payload of a `!seal` line: fixed keys in a fixed order, bare values only. */
export function sealPayload(f: SealFields, mac: string): string {
  return (
    `epoch=${f.epoch} key=${f.key} first=${f.first} last=${f.last} bytes=${f.bytes} ` +
    `sha256=${f.sha256} prev=${f.prev} mac=${mac}`
  );
}

const PAYLOAD_RE =
  /^epoch=([1-9][0-9]{0,15}) key=([0-9a-f]{16}) first=([1-9][0-9]{0,15}) last=(0|[1-9][0-9]{0,15}) bytes=(0|[1-9][0-9]{0,15}) sha256=([0-9a-f]{64}) prev=([0-9a-f]{64}) mac=([0-9a-f]{64})$/;
const HEAD_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) ([1-9][0-9]{0,15}) !seal (.*)$/s;

/**
 * Parses one whole stored line (without its LF) as a seal. Null unless it is exactly what the
 * writer makes: the same fields written back give the same bytes, so no byte of a seal line
 * escapes its MAC.
 */
export function parseSealLine(line: string): SealLine | null {
  const h = HEAD_RE.exec(line);
  if (!h) return null;
  const p = PAYLOAD_RE.exec(h[3]!);
  if (!p) return null;
  const s: SealLine = {
    time: h[1]!,
    seq: Number(h[2]),
    epoch: Number(p[1]),
    key: p[2]!,
    first: Number(p[3]),
    last: Number(p[4]),
    bytes: Number(p[5]),
    sha256: p[6]!,
    prev: p[7]!,
    mac: p[8]!,
  };
  return `${s.time} ${s.seq} !seal ${sealPayload(s, s.mac)}` === line ? s : null;
}

const KIND = Buffer.from("!seal ", "latin1");
const BANG = 0x21;

/**
 * The next seal line in `block` (whole lines) at or after `from`: its start and end (the
 * index of its LF), or null. A payload that merely contains " !seal " is not one: the kind
 * must be the line's third field. Looks for the byte "!" (memchr, rare in logs) rather than
 * the whole word: a multi-byte search ran at a third of the speed of hashing, and verify scans
 * every stored byte.
 */
export function nextSealLine(block: Buffer, from: number): { start: number; end: number } | null {
  for (let bang = block.indexOf(BANG, from + 1); bang !== -1; bang = block.indexOf(BANG, bang + 1)) {
    if (
      block[bang - 1] !== 0x20 ||
      bang + KIND.length > block.length ||
      block.compare(KIND, 0, KIND.length, bang, bang + KIND.length) !== 0
    )
      continue;
    const at = bang - 1; // the space before the kind
    const start = block.lastIndexOf(LF, at) + 1;
    if (start < from) continue;
    // time SP seq SP: the seq's digits run from start + TIME_LEN + 1 to `at`
    const seqStart = start + TIME_LEN + 1;
    if (at <= seqStart || at - seqStart > 16 || block[start + TIME_LEN] !== 0x20) continue;
    let digits = true;
    for (let i = seqStart; i < at; i++) if (block[i]! < 0x30 || block[i]! > 0x39) digits = false;
    if (!digits) continue;
    const end = block.indexOf(LF, at);
    if (end === -1) return null;
    return { start, end };
  }
  return null;
}
