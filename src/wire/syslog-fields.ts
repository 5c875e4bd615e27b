// The fields a syslog header yields, and the byte helpers the RFC 5424 and RFC 3164 readers
// share (src/wire/syslog-parse.ts, src/wire/syslog-3164.ts). Every helper reads a record view
// and stops at its end; none allocates except text(), which makes one field's string.

/** One SD-ELEMENT: its SD-ID and its parameters in order (a name may repeat), values unescaped. */
export interface SdElement {
  id: string;
  params: Array<[name: string, value: string]>;
}

export interface SyslogFields {
  /** Which grammar the header followed; null when the record has no syslog header at all. */
  header: "rfc5424" | "rfc3164" | null;
  facility: number | null;
  severity: number | null;
  /** The timestamp exactly as the sender wrote it (RFC 5424: null for `-`). */
  timestamp: string | null;
  hostname: string | null;
  appName: string | null;
  procId: string | null;
  msgId: string | null;
  structuredData: SdElement[] | null;
  /** Where MSG begins (after a BOM); the record's length when there is no MSG. */
  msgStart: number;
  /** MSG began with a UTF-8 byte order mark (skipped by msgStart). */
  bom: boolean;
}

export const SP = 0x20;
export const LT = 0x3c;
export const GT = 0x3e;
export const COLON = 0x3a;
export const DASH = 0x2d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const EQUALS = 0x3d;

export function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** Digits at buf[p, p+count) all present? */
export function digitsAt(buf: Buffer, p: number, count: number, end: number): boolean {
  if (p + count > end) return false;
  for (let k = 0; k < count; k++) if (!isDigit(buf[p + k])) return false;
  return true;
}

export function text(buf: Buffer, s: number, e: number): string {
  return buf.toString("utf8", s, e);
}

/** The end of the word (run of non-SP bytes) that starts at p. */
export function wordEnd(buf: Buffer, p: number, end: number): number {
  const sp = buf.indexOf(SP, p);
  return sp === -1 || sp > end ? end : sp;
}

export function skipSpaces(buf: Buffer, p: number, end: number): number {
  while (p < end && buf[p] === SP) p++;
  return p;
}
