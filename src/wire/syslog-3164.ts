// RFC 3164 and the variants real devices send, after the PRI (or from the record's start when
// there is none): the Cisco sequence number and clock mark, a BSD or ISO timestamp, the
// HOSTNAME unless it is missing, the TAG. What each accepts is described in syslog-parse.ts,
// which calls rfc3164() for every record that is not RFC 5424.

import {
  COLON,
  DASH,
  digitsAt,
  isDigit,
  LBRACKET,
  RBRACKET,
  SP,
  type SyslogFields,
  skipSpaces,
  text,
  wordEnd,
} from "./syslog-fields.ts";

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

const isUpper = (c: number | undefined): boolean => c !== undefined && c >= 0x41 && c <= 0x5a;

/** RFC 3164 and variants from p (after the PRI, or the record's start). */
export function rfc3164(buf: Buffer, p: number, end: number, out: SyslogFields): void {
  out.msgStart = p;
  let q = skipSpaces(buf, p, end);
  // Cisco IOS sequence number after the PRI: 1*DIGIT ":" SP
  let d = q;
  while (d < end && isDigit(buf[d])) d++;
  if (out.header !== null && d > q && d + 1 < end && buf[d] === COLON && buf[d + 1] === SP) {
    q = skipSpaces(buf, d + 2, end);
    out.msgStart = q;
  }
  // Cisco clock marks before the timestamp
  const marked = buf[q] === 0x2a || buf[q] === 0x2e;
  const stampAt = marked ? q + 1 : q;
  const stampEnd = bsdTimestamp(buf, stampAt, end);
  const isoEnd = stampEnd === -1 ? isoTimestamp(buf, stampAt, end) : -1;
  const tsEnd = stampEnd !== -1 ? stampEnd : isoEnd;
  if (tsEnd === -1) {
    if (marked) return;
    // no timestamp: no hostname either; a TAG may still open the message
    const t = tag(buf, q, end, out);
    if (t !== -1) {
      if (out.header === null) out.header = "rfc3164";
      out.msgStart = t;
    }
    return;
  }
  out.header = "rfc3164";
  out.timestamp = text(buf, stampAt, tsEnd);
  q = tsEnd;
  if (buf[q] === COLON) q++;
  q = skipSpaces(buf, q, end);
  out.msgStart = q;
  if (q >= end) return;
  // HOSTNAME, unless the word is already the TAG (a missing hostname)
  let t = tag(buf, q, end, out);
  if (t === -1) {
    const e = wordEnd(buf, q, end);
    out.hostname = text(buf, q, e);
    q = skipSpaces(buf, e, end);
    out.msgStart = q;
    if (q >= end) return;
    t = tag(buf, q, end, out);
  }
  if (t !== -1) out.msgStart = t;
}

/**
 * A TAG at p: `name:` `name[pid]:` or `name[pid]` followed by SP or the end (name: no SP, `[`
 * or `:`). Sets appName/procId and returns where MSG starts (one SP skipped), or -1.
 */
function tag(buf: Buffer, p: number, end: number, out: SyslogFields): number {
  let q = p;
  while (q < end) {
    const c = buf[q]!;
    if (c === SP || c === LBRACKET || c === COLON || c < SP) break;
    q++;
  }
  if (q === p || q >= end) return -1;
  const nameEnd = q;
  let pidStart = -1;
  let pidEnd = -1;
  if (buf[q] === LBRACKET) {
    pidStart = q + 1;
    const close = buf.indexOf(RBRACKET, pidStart);
    if (close === -1 || close >= end) return -1;
    for (let k = pidStart; k < close; k++) if (buf[k] === SP) return -1;
    pidEnd = close;
    q = close + 1;
    if (q < end && buf[q] === COLON) q++;
    else if (q < end && buf[q] !== SP) return -1;
  } else if (buf[q] === COLON) {
    q++;
  } else {
    return -1;
  }
  if (q < end && buf[q] !== SP) return -1;
  out.appName = text(buf, p, nameEnd);
  if (pidStart !== -1) out.procId = text(buf, pidStart, pidEnd);
  return q < end ? q + 1 : end;
}

/**
 * `Mmm dd [yyyy ]hh:mm:ss[.frac][ yyyy][ ZONE:]` at p; returns its end (before a trailing ":"),
 * or -1.
 */
function bsdTimestamp(buf: Buffer, p: number, end: number): number {
  if (p + 3 > end) return -1;
  const month = String.fromCharCode(buf[p]! | 0x20, buf[p + 1]! | 0x20, buf[p + 2]! | 0x20);
  if (!MONTHS.includes(month) || buf[p + 3] !== SP) return -1;
  let q = p + 4;
  if (buf[q] === SP) q++;
  // day: one or two digits
  if (!isDigit(buf[q])) return -1;
  q++;
  if (isDigit(buf[q])) q++;
  if (q >= end || buf[q] !== SP) return -1;
  q++;
  let year = false;
  if (digitsAt(buf, q, 4, end) && buf[q + 4] === SP) {
    q += 5;
    year = true;
  }
  q = clockAt(buf, q, end);
  if (q === -1) return -1;
  if (!year && buf[q] === SP && digitsAt(buf, q + 1, 4, end) && (q + 5 === end || buf[q + 5] === SP)) {
    q += 5;
  }
  // a zone name ended by ":" (Cisco show-timezone: " UTC:"), or followed by a year (" CST 1987",
  // RFC 3164 §5.4 example 3)
  if (buf[q] === SP) {
    let z = q + 1;
    while (z < end && z - q <= 5 && isUpper(buf[z])) z++;
    const zone = z - q - 1 >= 3;
    if (zone && buf[z] === COLON) q = z;
    else if (
      zone &&
      !year &&
      buf[z] === SP &&
      digitsAt(buf, z + 1, 4, end) &&
      (z + 5 === end || buf[z + 5] === SP)
    )
      q = z + 5;
  }
  if (q < end && buf[q] !== SP && buf[q] !== COLON) return -1;
  return q;
}

/** `hh:mm:ss[.frac]` at q, shared by both timestamp forms; returns its end, or -1. */
function clockAt(buf: Buffer, q: number, end: number): number {
  if (!(digitsAt(buf, q, 2, end) && buf[q + 2] === COLON && digitsAt(buf, q + 3, 2, end))) return -1;
  if (!(buf[q + 5] === COLON && digitsAt(buf, q + 6, 2, end))) return -1;
  let p = q + 8;
  if (buf[p] === 0x2e) {
    p++;
    while (p < end && isDigit(buf[p])) p++;
  }
  return p;
}

/** `yyyy-mm-dd(T| )hh:mm:ss[.frac][Z|±hh:mm|±hhmm]` at p; returns its end, or -1. */
function isoTimestamp(buf: Buffer, p: number, end: number): number {
  if (!(digitsAt(buf, p, 4, end) && buf[p + 4] === DASH && digitsAt(buf, p + 5, 2, end))) return -1;
  if (!(buf[p + 7] === DASH && digitsAt(buf, p + 8, 2, end))) return -1;
  const t = buf[p + 10];
  if (t !== 0x54 && t !== 0x74 && t !== SP) return -1;
  let q = p + 11;
  q = clockAt(buf, q, end);
  if (q === -1) return -1;
  const z = buf[q];
  if (z === 0x5a || z === 0x7a) q++;
  else if ((z === 0x2b || z === DASH) && digitsAt(buf, q + 1, 2, end)) {
    q += 3;
    if (buf[q] === COLON) q++;
    if (digitsAt(buf, q, 2, end)) q += 2;
  }
  if (q < end && buf[q] !== SP && buf[q] !== COLON) return -1;
  return q;
}
