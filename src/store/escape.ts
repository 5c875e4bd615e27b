// Lossless, display-safe escaping of payload bytes (docs/FORMAT.md, "Escaping").
//
// Why this exists: a stored line must never carry a byte that a terminal or a browser would
// act on (ESC, CR, LF that forges a second record, C1 controls, bidi overrides, invalid
// UTF-8), yet `show --raw` must give back exactly the bytes the sender sent. So every such
// byte or character is written as a backslash escape, the backslash itself is escaped, and
// everything else (valid UTF-8 text in any script) is copied as is.
//
// Escapes written:
//   \\  backslash            \t \n \r  TAB, LF, CR
//   \xHH  one raw byte: any other C0 control, DEL, or a byte that is not part of valid UTF-8
//   \uHHHH  a valid but dangerous code point: C1 controls U+0080–U+009F, the Unicode
//           Bidi_Control set (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the
//           line/paragraph separators U+2028, U+2029
//
// Hot path: this runs once per received record, so it works on bytes with a class table and
// copies runs of plain bytes with one native copy each; there is no per-record string.

const BACKSLASH = 0x5c;
const HEX = Buffer.from("0123456789abcdef", "latin1");

/** Byte classes. 0: plain, copied as is. 1: needs a one-byte escape. 2: UTF-8 lead byte. 3: never valid. */
const CLASS = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if (b < 0x20 || b === 0x7f || b === BACKSLASH) CLASS[b] = 1;
  else if (b < 0x7f) CLASS[b] = 0;
  else if (b >= 0xc2 && b <= 0xf4) CLASS[b] = 2;
  else CLASS[b] = 3; // continuation bytes alone, C0/C1 overlong leads, F5..FF
}

/** The largest number of output bytes one input byte can become (`\xHH`). */
export const ESCAPE_EXPANSION = 4;

/** True when the code point must be written as `\uHHHH` although it is valid UTF-8. */
export function isDangerousCodePoint(cp: number): boolean {
  return (
    (cp >= 0x80 && cp <= 0x9f) ||
    cp === 0x061c ||
    cp === 0x200e ||
    cp === 0x200f ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069)
  );
}

/**
 * Length of the valid UTF-8 sequence starting at `i` (2..4), or 0 if the bytes there are not
 * one. Follows the Unicode well-formed table: no overlongs, no surrogates, nothing past U+10FFFF.
 */
function utf8SequenceLength(src: Uint8Array, i: number, end: number): number {
  const b0 = src[i]!;
  if (b0 < 0xe0) {
    // C2..DF
    if (i + 1 >= end) return 0;
    const b1 = src[i + 1]!;
    return b1 >= 0x80 && b1 <= 0xbf ? 2 : 0;
  }
  if (b0 < 0xf0) {
    if (i + 2 >= end) return 0;
    const b1 = src[i + 1]!;
    const b2 = src[i + 2]!;
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return b1 >= lo && b1 <= hi && b2 >= 0x80 && b2 <= 0xbf ? 3 : 0;
  }
  // F0..F4
  if (i + 3 >= end) return 0;
  const b1 = src[i + 1]!;
  const lo = b0 === 0xf0 ? 0x90 : 0x80;
  const hi = b0 === 0xf4 ? 0x8f : 0xbf;
  if (b1 < lo || b1 > hi) return 0;
  const b2 = src[i + 2]!;
  const b3 = src[i + 3]!;
  return b2 >= 0x80 && b2 <= 0xbf && b3 >= 0x80 && b3 <= 0xbf ? 4 : 0;
}

function codePointAt(src: Uint8Array, i: number, len: number): number {
  const b0 = src[i]!;
  if (len === 2) return ((b0 & 0x1f) << 6) | (src[i + 1]! & 0x3f);
  if (len === 3) return ((b0 & 0x0f) << 12) | ((src[i + 1]! & 0x3f) << 6) | (src[i + 2]! & 0x3f);
  return 0; // 4-byte sequences are never dangerous
}

function writeByteEscape(dst: Uint8Array, d: number, b: number): number {
  dst[d] = BACKSLASH;
  if (b === 0x5c) {
    dst[d + 1] = BACKSLASH;
    return d + 2;
  }
  if (b === 0x09 || b === 0x0a || b === 0x0d) {
    dst[d + 1] = b === 0x09 ? 0x74 : b === 0x0a ? 0x6e : 0x72; // t n r
    return d + 2;
  }
  dst[d + 1] = 0x78; // x
  dst[d + 2] = HEX[b >> 4]!;
  dst[d + 3] = HEX[b & 15]!;
  return d + 4;
}

function writeCodePointEscape(dst: Uint8Array, d: number, cp: number): number {
  dst[d] = BACKSLASH;
  dst[d + 1] = 0x75; // u
  dst[d + 2] = HEX[(cp >> 12) & 15]!;
  dst[d + 3] = HEX[(cp >> 8) & 15]!;
  dst[d + 4] = HEX[(cp >> 4) & 15]!;
  dst[d + 5] = HEX[cp & 15]!;
  return d + 6;
}

// One aligned Int32Array view of the ArrayBuffer last scanned, so that plain runs are checked
// four bytes at a time. Payloads are usually views into one socket or file chunk, so this
// single-entry cache is nearly always hit.
let viewedBuffer: ArrayBufferLike | null = null;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * Index of the first byte in `src[i, end)` that is not plain printable ASCII (0x20..0x7E other
 * than backslash), or `end`. SWAR: a word has such a byte iff one of the three classic
 * "has byte less than / more than / equal to" bit tests sets a high bit.
 */
export function plainRunEnd(src: Uint8Array, i: number, end: number): number {
  if (src.buffer !== viewedBuffer) {
    viewedBuffer = src.buffer;
    words = new Int32Array(src.buffer, 0, src.buffer.byteLength >> 2);
  }
  const base = src.byteOffset;
  while (i < end && ((base + i) & 3) !== 0) {
    const b = src[i]!;
    if (b < 0x20 || b > 0x7e || b === BACKSLASH) return i;
    i++;
  }
  let w = (base + i) >> 2;
  const wEnd = (base + end) >> 2;
  for (; w < wEnd; w++) {
    const x = words[w]!;
    const v = x ^ 0x5c5c5c5c;
    const t = ((x - 0x20202020) & ~x) | (x + 0x01010101) | x | ((v - 0x01010101) & ~v);
    if ((t & 0x80808080) !== 0) break;
  }
  i = Math.max(i, (w << 2) - base);
  while (i < end) {
    const b = src[i]!;
    if (b < 0x20 || b > 0x7e || b === BACKSLASH) return i;
    i++;
  }
  return end;
}

/**
 * Escapes `src[start, end)` into `dst` at `d` and returns the new end offset in `dst`.
 * `dst` must have room for `ESCAPE_EXPANSION * (end - start)` bytes after `d`.
 */
export function escapeInto(src: Buffer, start: number, end: number, dst: Uint8Array, d: number): number {
  let run = start; // start of the current run of bytes copied as is
  let i = start;
  while (i < end) {
    i = plainRunEnd(src, i, end);
    if (i >= end) break;
    const cls = CLASS[src[i]!]!;
    if (cls === 2) {
      const len = utf8SequenceLength(src, i, end);
      if (len !== 0) {
        const cp = len === 4 ? 0 : codePointAt(src, i, len);
        if (!isDangerousCodePoint(cp)) {
          i += len;
          continue;
        }
        if (i > run) d += src.copy(dst, d, run, i);
        d = writeCodePointEscape(dst, d, cp);
        i += len;
        run = i;
        continue;
      }
    }
    // class 1, class 3, or a lead byte that does not start a valid sequence: escape one byte
    if (i > run) d += src.copy(dst, d, run, i);
    d = writeByteEscape(dst, d, src[i]!);
    i++;
    run = i;
  }
  // one native copy for the plain run (no view object); most payloads are a single run
  if (end > run) d += src.copy(dst, d, run, end);
  return d;
}

/** A Buffer over the same memory (no copy), for callers that hold a plain Uint8Array. */
export function asBuffer(src: Uint8Array): Buffer {
  return Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
}

/** Escapes a whole payload into a new Buffer (convenience for tests, CLI and rare paths). */
export function escapePayload(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(src.length * ESCAPE_EXPANSION);
  const n = escapeInto(asBuffer(src), 0, src.length, out, 0);
  return out.subarray(0, n);
}

/**
 * A string made safe to print on a terminal or in a journal, the way stored lines are: every
 * control, C1, bidi or invalid character escaped (`\x1b`, `\u202e`). For messages that echo
 * something from outside (an argument, a name a sender chose). Unlike a stored line it need not
 * be reversible, so a backslash stays one backslash (messages quote names with JSON already).
 */
export function escapeText(text: string): string {
  return text
    .split("\\")
    .map((part) => escapePayload(Buffer.from(part, "utf8")).toString("utf8"))
    .join("\\");
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Reverses `escapeInto`. Malformed escapes (which `escape` never writes, so they only appear in
 * a damaged or hand-edited file) are kept literally rather than guessed at.
 */
export function unescapePayload(src: Uint8Array, start = 0, end = src.length): Buffer {
  const first = src.indexOf(BACKSLASH, start);
  if (first === -1 || first >= end) return Buffer.from(src.buffer, src.byteOffset + start, end - start);
  const out = Buffer.allocUnsafe(end - start);
  let o = 0;
  let run = start;
  let i = first;
  while (i < end) {
    if (src[i] !== BACKSLASH) {
      i++;
      continue;
    }
    if (i > run) {
      out.set(src.subarray(run, i), o);
      o += i - run;
    }
    const c = i + 1 < end ? src[i + 1]! : -1;
    let consumed = 0;
    if (c === BACKSLASH) {
      out[o++] = BACKSLASH;
      consumed = 2;
    } else if (c === 0x74 || c === 0x6e || c === 0x72) {
      out[o++] = c === 0x74 ? 0x09 : c === 0x6e ? 0x0a : 0x0d;
      consumed = 2;
    } else if (c === 0x78 && i + 3 < end) {
      const h = hexValue(src[i + 2]!);
      const l = hexValue(src[i + 3]!);
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        consumed = 4;
      }
    } else if (c === 0x75 && i + 5 < end) {
      let cp = 0;
      let ok = true;
      for (let k = 2; k < 6; k++) {
        const v = hexValue(src[i + k]!);
        if (v < 0) ok = false;
        cp = (cp << 4) | (v & 15);
      }
      if (ok && cp >= 0x80 && cp < 0x800) {
        out[o++] = 0xc0 | (cp >> 6);
        out[o++] = 0x80 | (cp & 0x3f);
        consumed = 6;
      } else if (ok && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) {
        out[o++] = 0xe0 | (cp >> 12);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
        consumed = 6;
      }
    }
    if (consumed === 0) {
      out[o++] = BACKSLASH; // malformed: keep the backslash and go on with the next byte
      consumed = 1;
    }
    i += consumed;
    run = i;
  }
  if (end > run) {
    out.set(src.subarray(run, end), o);
    o += end - run;
  }
  return out.subarray(0, o);
}

/**
 * True when `line[start, end)` contains nothing that `escapeInto` would have escaped other
 * than through a backslash escape: no control byte, no invalid UTF-8, no dangerous code
 * point. Readers use it so that a damaged or forged segment file still cannot reach a
 * terminal unescaped.
 */
export function isDisplaySafe(line: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    i = plainRunEnd(line, i, end);
    if (i >= end) return true;
    const b = line[i]!;
    if (b === BACKSLASH) {
      i++;
      continue;
    }
    if (CLASS[b] !== 2) return false;
    const len = utf8SequenceLength(line, i, end);
    if (len === 0) return false;
    if (len < 4 && isDangerousCodePoint(codePointAt(line, i, len))) return false;
    i += len;
  }
  return true;
}

// Any byte a stored line made only of printable ASCII cannot hold (LF ends lines).
const NOT_PRINTABLE_LINES = /[^\x20-\x7e\n]/;

/**
 * True when `buf[start, end)` holds only printable ASCII and line ends, and so only
 * display-safe lines. One pass of V8's compiled regular expression over a block's text, where
 * isDisplaySafe runs line by line in JavaScript (cold in a short-lived `show`: about 1.5 ms per
 * 1000 lines). False says nothing: the lines must then be checked one by one.
 */
export function isPrintableLines(buf: Buffer, start: number, end: number): boolean {
  return !NOT_PRINTABLE_LINES.test(buf.toString("latin1", start, end));
}
