// Reading the header of one syslog record (RFC 5424, RFC 3164 and what real devices send in
// between) for search and the UI only. The record itself is stored as received; nothing here
// decides where it goes, and a claimed HOSTNAME is data, never the origin (that comes from the
// channel). So the parser may be lenient where it helps search and must be strict only about
// its own cost: one pass, linear in the record, no allocation per byte (strings only for the
// fields it returns), never a throw. Whatever it cannot read is null; the caller stores an
// unreadable record whole.
//
// RFC 5424: `<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]`,
// `-` being "no value". Structured data is read with the RFC's escapes (\" \\ \] inside a
// quoted value, any other backslash kept as it is); an unescaped `]` or `"` in a value, or any
// other break of the SD grammar, makes the whole SD unreadable: `structuredData` is null and
// MSG is taken to start where the SD did, so nothing is hidden.
//
// RFC 3164 and its variants: `<PRI>` (or none), then a Cisco sequence number (`123: `) and a
// Cisco clock mark (`*` unsynchronised, `.` lost sync) if present, then a timestamp if one is
// there: `Mmm dd hh:mm:ss` (any case, one or two spaces or a zero before a one-digit day, an
// optional fraction, an optional year before or after the time, an optional zone name ended by
// `:` as Cisco's `show-timezone` writes or followed by a year, an optional trailing `:`) or an ISO 8601 / RFC 3339
// stamp (`T` or a space between date and time). After a timestamp comes the HOSTNAME unless
// the next word is already a TAG (a missing hostname). The TAG is `name:`, `name[pid]:` or
// `name[pid]`, followed by SP or the end, and counts only so (so "Use the BFG!" has no app-name
// and "tag5:msgnum:5" is all MSG); the one SP after it is not part of MSG. A UTF-8 BOM at the start of MSG is skipped and reported (RFC 5424 §6.4).
//
// The timestamp is returned as claimed (the exact text), never converted: a sender's clock is
// data; the collector's receive time is the record's time.

import { rfc3164 } from "./syslog-3164.ts";
import {
  BACKSLASH,
  DASH,
  EQUALS,
  GT,
  isDigit,
  LBRACKET,
  LT,
  QUOTE,
  RBRACKET,
  type SdElement,
  SP,
  type SyslogFields,
  text,
  wordEnd,
} from "./syslog-fields.ts";

export type { SdElement, SyslogFields } from "./syslog-fields.ts";

/**
 * Parses one record, `record[start, end)` (default: all of it); msgStart is relative to `start`.
 * The parser reads through a view of exactly the record, so it never looks past its end.
 */
export function parseSyslog(record: Buffer, start = 0, end = record.length): SyslogFields {
  const buf = start === 0 && end === record.length ? record : record.subarray(start, end);
  const len = buf.length;
  const out: SyslogFields = {
    header: null,
    facility: null,
    severity: null,
    timestamp: null,
    hostname: null,
    appName: null,
    procId: null,
    msgId: null,
    structuredData: null,
    msgStart: 0,
    bom: false,
  };
  let p = 0;
  // PRI: "<" 1*3DIGIT ">", no leading zero, at most 191
  if (buf[p] === LT) {
    let q = p + 1;
    let pri = 0;
    while (q < len && q - p <= 3 && isDigit(buf[q])) pri = pri * 10 + (buf[q++]! - 0x30);
    const digits = q - p - 1;
    if (digits > 0 && buf[q] === GT && pri <= 191 && !(digits > 1 && buf[p + 1] === 0x30)) {
      out.facility = pri >> 3;
      out.severity = pri & 7;
      out.header = "rfc3164";
      p = q + 1;
    }
  }
  const afterPri = p;
  if (out.header !== null && rfc5424(buf, p, len, out)) {
    out.header = "rfc5424";
  } else {
    rfc3164(buf, afterPri, len, out);
  }
  // BOM at the start of MSG
  const m = out.msgStart;
  if (m + 3 <= len && buf[m] === 0xef && buf[m + 1] === 0xbb && buf[m + 2] === 0xbf) {
    out.bom = true;
    out.msgStart = m + 3;
  }
  return out;
}

/** RFC 5424 after the PRI; false (and `out` untouched) when there is no VERSION SP. */
function rfc5424(buf: Buffer, p: number, end: number, out: SyslogFields): boolean {
  // VERSION = NONZERO-DIGIT 0*2DIGIT, then SP
  if (!isDigit(buf[p]) || buf[p] === 0x30) return false;
  let q = p + 1;
  while (q < end && q - p < 3 && isDigit(buf[q])) q++;
  if (q >= end || buf[q] !== SP) return false;
  p = q + 1;
  // five header words, "-" being none; a header cut short leaves the rest null and no MSG
  const words: Array<string | null> = [null, null, null, null, null];
  for (let k = 0; k < 5; k++) {
    if (p >= end) {
      assign5424(out, words);
      out.msgStart = end;
      return true;
    }
    const e = wordEnd(buf, p, end);
    words[k] = e === p || (e - p === 1 && buf[p] === DASH) ? null : text(buf, p, e);
    p = e < end ? e + 1 : end;
  }
  assign5424(out, words);
  if (p >= end) {
    out.msgStart = end;
    return true;
  }
  // STRUCTURED-DATA: "-" or SD-ELEMENTs, then SP MSG or the end
  if (buf[p] === DASH && (p + 1 === end || buf[p + 1] === SP)) {
    out.msgStart = p + 1 < end ? p + 2 : end;
    return true;
  }
  const sd: SdElement[] = [];
  const after = structuredData(buf, p, end, sd);
  if (after !== -1 && (after === end || buf[after] === SP)) {
    out.structuredData = sd;
    out.msgStart = after < end ? after + 1 : end;
  } else {
    out.msgStart = p; // unreadable SD: it is part of MSG
  }
  return true;
}

function assign5424(out: SyslogFields, words: Array<string | null>): void {
  out.timestamp = words[0]!;
  out.hostname = words[1]!;
  out.appName = words[2]!;
  out.procId = words[3]!;
  out.msgId = words[4]!;
}

/** Is c allowed in an SD-NAME (PRINTUSASCII except = SP ] ")? */
function sdNameByte(c: number): boolean {
  return c > SP && c < 0x7f && c !== EQUALS && c !== RBRACKET && c !== QUOTE;
}

/** Reads 1*SD-ELEMENT from p into `into`; returns the offset after them, or -1 if malformed. */
function structuredData(buf: Buffer, p: number, end: number, into: SdElement[]): number {
  if (buf[p] !== LBRACKET) return -1;
  while (p < end && buf[p] === LBRACKET) {
    p++;
    let q = p;
    while (q < end && sdNameByte(buf[q]!)) q++;
    if (q === p || q >= end) return -1;
    const element: SdElement = { id: text(buf, p, q), params: [] };
    p = q;
    while (p < end && buf[p] === SP) {
      p++;
      q = p;
      while (q < end && sdNameByte(buf[q]!)) q++;
      if (q === p || q + 1 >= end || buf[q] !== EQUALS || buf[q + 1] !== QUOTE) return -1;
      const name = text(buf, p, q);
      p = q + 2;
      const close = paramValueEnd(buf, p, end);
      if (close === -1) return -1;
      element.params.push([name, escapes === 0 ? text(buf, p, close) : unescaped(buf, p, close)]);
      p = close + 1;
    }
    if (p >= end || buf[p] !== RBRACKET) return -1;
    into.push(element);
    p++;
  }
  return p;
}

/** Escapes (\" \\ \]) seen by the last paramValueEnd(). */
let escapes = 0;

/**
 * The closing quote of a PARAM-VALUE that starts at p, or -1: \" \\ \] are escapes, any other
 * backslash is a plain byte, an unescaped ] is not allowed (RFC 5424 §6.3.3).
 */
function paramValueEnd(buf: Buffer, p: number, end: number): number {
  escapes = 0;
  while (p < end) {
    const c = buf[p]!;
    if (c === QUOTE) return p;
    if (c === RBRACKET) return -1;
    if (c === BACKSLASH && p + 1 < end) {
      const n = buf[p + 1];
      if (n === QUOTE || n === BACKSLASH || n === RBRACKET) {
        escapes++;
        p += 2;
        continue;
      }
    }
    p++;
  }
  return -1;
}

/** Scratch space for unescaping one value; grows to the longest value seen, never past a record. */
let scratch = Buffer.allocUnsafe(256);

/** The value buf[s, e) with its escapes undone, as one string. */
function unescaped(buf: Buffer, s: number, e: number): string {
  if (scratch.length < e - s) scratch = Buffer.allocUnsafe(Math.max(e - s, scratch.length * 2));
  let n = 0;
  for (let p = s; p < e; p++) {
    const c = buf[p]!;
    if (c === BACKSLASH && p + 1 < e) {
      const next = buf[p + 1]!;
      if (next === QUOTE || next === BACKSLASH || next === RBRACKET) {
        scratch[n++] = next;
        p++;
        continue;
      }
    }
    scratch[n++] = c;
  }
  return scratch.toString("utf8", 0, n);
}
