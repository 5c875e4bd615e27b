// What `verify-export` checks beyond the SHA-256s: an archive is hostile input (someone hands
// you a file), and its manifest is not authenticated (it waits for the seals of issue 18), so a
// crafted archive can list anything with matching hashes. Every member name must be one that
// `logward export` writes (README.txt, manifest.json, origins/O/S.log,
// objects/O/S/<sha256>.<ext>), every .log member must hold what export writes (stored lines:
// a record head and a display-safe payload, LF-terminated), and decompression is bounded by
// what the manifest declares (docs/FORMAT.md, "Export archives").

import { BLOB_EXTENSIONS } from "../store/blob-type.ts";
import { escapeText, isDisplaySafe } from "../store/escape.ts";
import { SHA256_RE } from "../store/layout.ts";
import { isStoredOrigin, isValidName } from "../store/names.ts";
import { checkLineHead } from "../store/record.ts";
import {
  logMemberPath,
  MANIFEST,
  type MemberInfo,
  type ObjectMemberInfo,
  objectMemberPath,
  README,
} from "./export.ts";
import { tarMemberBytes } from "./tar.ts";

/** The README export writes is about 2 KiB; the manifest is read whole, so it is bounded. */
export const MAX_README_BYTES = 64 * 1024;
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Bytes a tar stream may hold past what its members need (end marker, a tar's record padding). */
export const TAR_SLACK_BYTES = 64 * 1024;
/** The most a stored line's head (time, seq, kind, @ref) can take, with room to spare. */
const MAX_HEAD_BYTES = 512;

/** A name printed in a message: every control or bidi character escaped, at most 300 characters. */
export const shown = (name: string): string => escapeText(name).slice(0, 300);

/** Why a member name could be dangerous to unpack or print ("has an absolute name"), or null. */
export function unsafeNameProblem(path: string): string | null {
  if (path.startsWith("/")) return "has an absolute name";
  if (path.split("/").includes("..")) return "has a '..' component";
  // escapeText changes exactly the control, C1, bidi and separator characters
  if (path.includes("\0") || path.includes("\ufffd") || escapeText(path) !== path)
    return "has a NUL, control, bidi or invalid character in its name";
  return null;
}

/** The path export gives the object `o` describes, or null for a type export does not write. */
function objectPath(o: ObjectMemberInfo): string | null {
  if (typeof o.type !== "string" || !Object.hasOwn(BLOB_EXTENSIONS, o.type)) return null;
  return objectMemberPath(o);
}

const count = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** A member's `damaged` list: ranges of seqs the exporter could not read (strings never echoed). */
function damagedRanges(list: unknown): boolean {
  return (
    Array.isArray(list) &&
    list.length <= 1_000_000 &&
    list.every(
      (d) =>
        typeof d === "object" &&
        d !== null &&
        count(d.first_seq) &&
        count(d.last_seq) &&
        d.last_seq >= d.first_seq,
    )
  );
}

/** How many records a member's `damaged` list says are missing. */
export function damagedCount(m: MemberInfo): number {
  return (m.damaged ?? []).reduce((n, d) => n + d.last_seq - d.first_seq + 1, 0);
}

export interface CheckedManifest {
  members: MemberInfo[];
  objects: ObjectMemberInfo[];
  /** path -> what the member must be */
  expected: Map<string, { kind: "log" | "object"; bytes: number; records: number }>;
  /** tar bytes the listed members take (headers, data, padding) */
  memberTarBytes: number;
}

/** Checks the manifest's shape and every path in it; throws an Error saying what is wrong. */
export function checkManifest(text: string): CheckedManifest {
  let doc: { format?: unknown; members?: unknown; objects?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw new Error("its manifest.json is missing or not JSON");
  }
  if (
    typeof doc !== "object" ||
    doc === null ||
    doc.format !== "logward-export 1" ||
    !Array.isArray(doc.members)
  )
    throw new Error("its manifest is not a logward-export 1 manifest");
  const objects = doc.objects ?? [];
  if (!Array.isArray(objects)) throw new Error("its manifest's objects is not a list");
  const expected: CheckedManifest["expected"] = new Map();
  let memberTarBytes = 0;
  const add = (path: string, kind: "log" | "object", bytes: number, records: number) => {
    const unsafe = unsafeNameProblem(path);
    if (unsafe) throw new Error(`the manifest lists ${shown(path)}, which ${unsafe}`);
    if (expected.has(path)) throw new Error(`the manifest lists ${shown(path)} twice`);
    expected.set(path, { kind, bytes, records });
    memberTarBytes += tarMemberBytes(bytes);
  };
  for (const m of doc.members as MemberInfo[]) {
    const ok =
      typeof m === "object" &&
      m !== null &&
      typeof m.path === "string" &&
      typeof m.origin === "string" &&
      typeof m.stream === "string" &&
      isStoredOrigin(m.origin) &&
      isValidName(m.stream) &&
      m.path === logMemberPath(m.origin, m.stream) &&
      count(m.bytes) &&
      count(m.records) &&
      typeof m.sha256 === "string" &&
      SHA256_RE.test(m.sha256) &&
      (m.damaged === undefined || damagedRanges(m.damaged));
    if (!ok) {
      const path = typeof m?.path === "string" ? m.path : "";
      const unsafe = unsafeNameProblem(path);
      if (unsafe) throw new Error(`the manifest lists ${shown(path)}, which ${unsafe}`);
      throw new Error(
        `the manifest lists a stream ${shown(path)} that is not one logward export writes (origins/ORIGIN/STREAM.log with its origin, stream, bytes, records and SHA-256)`,
      );
    }
    add(m.path, "log", m.bytes, m.records);
  }
  for (const o of objects as ObjectMemberInfo[]) {
    const ok =
      typeof o === "object" &&
      o !== null &&
      typeof o.path === "string" &&
      typeof o.origin === "string" &&
      typeof o.stream === "string" &&
      isStoredOrigin(o.origin) &&
      isValidName(o.stream) &&
      typeof o.sha256 === "string" &&
      SHA256_RE.test(o.sha256) &&
      count(o.size) &&
      o.path === objectPath(o);
    if (!ok) {
      const path = typeof o?.path === "string" ? o.path : "";
      const unsafe = unsafeNameProblem(path);
      if (unsafe) throw new Error(`the manifest lists ${shown(path)}, which ${unsafe}`);
      throw new Error(
        `the manifest lists an object ${shown(path)} that is not one logward export writes (objects/ORIGIN/STREAM/SHA256.TYPE with its size)`,
      );
    }
    add(o.path, "object", o.size, 0);
  }
  return {
    members: doc.members as MemberInfo[],
    objects: objects as ObjectMemberInfo[],
    expected,
    memberTarBytes,
  };
}

/** True for the names export gives its members (before the manifest says which ones are in). */
export function isExportName(path: string): boolean {
  if (path === README || path === MANIFEST) return true;
  const p = path.split("/");
  if (p[0] === "origins" && p.length === 3 && p[2]!.endsWith(".log"))
    return isStoredOrigin(p[1]!) && isValidName(p[2]!.slice(0, -4));
  if (p[0] === "objects" && p.length === 4) {
    const dot = p[3]!.indexOf(".");
    return (
      isStoredOrigin(p[1]!) &&
      isValidName(p[2]!) &&
      SHA256_RE.test(p[3]!.slice(0, dot === -1 ? undefined : dot))
    );
  }
  return false;
}

/**
 * Streams a text member (a .log, or the README with `records` null) and throws at the first
 * thing export never writes: a byte that is not display-safe (raw ESC, BEL, C1, bidi, invalid
 * UTF-8), a line that is not a stored record, more lines than the manifest says, a last line
 * without LF. Holds at most 3 bytes of a split UTF-8 character and one line head.
 */
export class TextMemberCheck {
  private readonly path: string;
  private readonly records: number | null;
  private carry: Buffer = Buffer.alloc(0);
  private readonly head = Buffer.alloc(MAX_HEAD_BYTES);
  private headLen = 0;
  private inHead = true;
  private lines = 0;
  private last = -1;

  constructor(path: string, records: number | null) {
    this.path = path;
    this.records = records;
  }

  private fail(why: string): never {
    throw new Error(`the member ${shown(this.path)} ${why}, which logward export never writes`);
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.last = chunk[chunk.length - 1]!;
    if (this.records !== null) this.heads(chunk);
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = Buffer.alloc(0);
    let s = 0;
    for (;;) {
      const lf = buf.indexOf(0x0a, s);
      if (lf === -1) {
        const e = completeEnd(buf, s, buf.length);
        if (!isDisplaySafe(buf, s, e))
          this.fail("holds a byte that is not display-safe (raw ESC, BEL, C1, bidi or invalid UTF-8)");
        this.carry = Buffer.from(buf.subarray(e));
        return;
      }
      if (!isDisplaySafe(buf, s, lf))
        this.fail("holds a byte that is not display-safe (raw ESC, BEL, C1, bidi or invalid UTF-8)");
      s = lf + 1;
    }
  }

  /** Each line's first bytes, checked as a stored record's head; lines counted. */
  private heads(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const lf = chunk.indexOf(0x0a, i);
      const end = lf === -1 ? chunk.length : lf;
      if (this.inHead) {
        const take = Math.min(end - i, MAX_HEAD_BYTES - this.headLen);
        chunk.copy(this.head, this.headLen, i, i + take);
        this.headLen += take;
        if (lf !== -1 || this.headLen === MAX_HEAD_BYTES) {
          if (!checkLineHead(this.head, 0, this.headLen)) this.fail("has a line that is not a stored record");
          this.inHead = false;
        }
      }
      if (lf === -1) return;
      this.lines++;
      if (this.lines > this.records!)
        this.fail(`has more than the ${this.records} records the manifest says`);
      this.inHead = true;
      this.headLen = 0;
      i = lf + 1;
    }
  }

  end(): void {
    if (this.carry.length > 0) this.fail("ends inside a UTF-8 character");
    if (this.last !== -1 && this.last !== 0x0a) this.fail("does not end with a line end");
  }
}

/** End of the complete characters in `buf[s, e)`: a UTF-8 lead byte cut by the chunk's end is kept back. */
function completeEnd(buf: Buffer, s: number, e: number): number {
  for (let k = e - 1; k >= s && k >= e - 3; k--) {
    const b = buf[k]!;
    if (b < 0x80) return e;
    if (b >= 0xc0) {
      const need = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      return e - k < need ? k : e;
    }
  }
  return e;
}

/** The most decompressed bytes an archive may hold before its manifest has been read. */
export const BEFORE_MANIFEST_BYTES =
  tarMemberBytes(MAX_README_BYTES) + tarMemberBytes(MAX_MANIFEST_BYTES) + TAR_SLACK_BYTES;
