// Searching inside objects (`logward search`): the objects of type `text` announced in the
// search's window (a `!blob` record's receive time is its object's time) are read back through
// the SHA-256 check, line by line, never whole (objects go up to 1 GiB). Each line is escaped
// with the store's escaper first, so a pattern matches an object's line exactly as it would
// match the same bytes stored as a record, and a hit prints as safely as a stored line.
// Objects of other types (evtx, bsm, pcap, pcapng, gzip, zstd, binary) are not searched:
// they are listed as skipped. gzip and zstd objects are not decompressed (their content's type
// is unknown until then, and a small one can expand without bound).

import { existsSync } from "node:fs";
import { LogwardError } from "../errors.ts";
import { ESCAPE_EXPANSION, escapeInto, isPrintableLines } from "../store/escape.ts";
import { objectPath } from "../store/layout.ts";
import { streamDir } from "../store/names.ts";
import type { StreamRef, Window } from "../store/read.ts";
import { LF } from "../store/record.ts";
import { listObjects, type ObjectRow, objectBytes } from "./objects.ts";
import type { Matcher } from "./search.ts";

/** A line longer than this is searched in pieces of this size (same line number). */
export const OBJECT_LINE_PIECE = 1024 * 1024;
const BACKSLASH = 0x5c;

/** One matching line of an object: the line as it would be stored (escaped). */
export interface ObjectHit {
  object: ObjectRow;
  /** 1-based line number inside the object. */
  line: number;
  escaped: Buffer;
}

/** An object in the window that was not searched, and why. */
export interface SkippedObject {
  origin: string;
  stream: string;
  seq: number;
  type: string;
  reason: "not text" | "no longer stored";
}

/** What searching objects found besides hits. */
export interface ObjectSearchNotes {
  skipped: SkippedObject[];
  /** One sentence per text object that did not match its record (its hits may be wrong). */
  damaged: string[];
}

/**
 * The lines of one text object that match, with their numbers. Reads the object as a stream,
 * a decompressed chunk's whole lines at a time; holds at most those lines (or OBJECT_LINE_PIECE
 * of one) and their escaped copy besides the decompressor's output.
 * Throws LW_OBJECT_CORRUPT at the end when the bytes do not match the record.
 */
export async function* objectLineHits(
  object: ObjectRow,
  path: string,
  m: Matcher,
): AsyncGenerator<{ line: number; escaped: Buffer }> {
  let out = Buffer.allocUnsafe(64 * 1024);
  let lineNo = 1;
  const hits: { line: number; escaped: Buffer }[] = [];
  // Adds the hits among the lines of buf[s, e) (each LF-terminated, or one piece or last line
  // without LF) to `hits`. The lines are escaped as a block: kept as they are when they are
  // printable ASCII without a backslash (escaping changes nothing), else each escaped into
  // `out` with an LF after it (an escaped line holds none). A plain string is then found with
  // indexOf over the whole block, as search.ts does in stored blocks; a regular expression is
  // tried on each line.
  const test = (buf: Buffer, s: number, e: number): void => {
    let text = buf;
    let a = s;
    let b = e;
    let enc: "latin1" | "utf8" = "latin1";
    const bs = buf.indexOf(BACKSLASH, s);
    if ((bs !== -1 && bs < e) || !isPrintableLines(buf, s, e)) {
      const need = (e - s) * ESCAPE_EXPANSION;
      if (out.length < need) out = Buffer.allocUnsafe(need);
      let n = 0;
      for (let ls = s; ls < e; ) {
        let le = buf.indexOf(LF, ls);
        if (le === -1 || le >= e) le = e;
        n = escapeInto(buf, ls, le, out, n);
        if (le < e) out[n++] = LF;
        ls = le + 1;
      }
      text = out;
      a = 0;
      b = n;
      enc = "utf8";
    }
    // lineNo is the number of the line at `at`
    let at = a;
    const hit = (ls: number, le: number) => {
      for (let nl = text.indexOf(LF, at); nl !== -1 && nl < ls; nl = text.indexOf(LF, nl + 1)) lineNo++;
      at = ls;
      hits.push({ line: lineNo, escaped: Buffer.from(text.subarray(ls, le)) });
    };
    if (m.needle) {
      const needle = m.needle;
      for (let i = text.indexOf(needle, a); i !== -1 && i < b; ) {
        const ls = Math.max(a, text.lastIndexOf(LF, i) + 1);
        let le = text.indexOf(LF, i);
        if (le === -1 || le > b) le = b;
        if (i + needle.length <= le) hit(ls, le);
        i = text.indexOf(needle, le + 1);
      }
    } else {
      for (let ls = a; ls < b; ) {
        let le = text.indexOf(LF, ls);
        if (le === -1 || le > b) le = b;
        if (m.re!.test(text.toString(enc, ls, le))) hit(ls, le);
        ls = le + 1;
      }
    }
    // on to the line after the block
    for (let nl = text.indexOf(LF, at); nl !== -1 && nl < b; nl = text.indexOf(LF, nl + 1)) lineNo++;
  };
  let carry: Buffer | null = null;
  for await (const chunk of objectBytes({ ...object, path }) as AsyncIterable<Buffer>) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = null;
    // the whole lines (the first may end a long line whose first pieces were searched already)
    let s = buf.lastIndexOf(LF) + 1;
    if (s > 0) test(buf, 0, s);
    while (buf.length - s >= OBJECT_LINE_PIECE) {
      test(buf, s, s + OBJECT_LINE_PIECE);
      s += OBJECT_LINE_PIECE;
    }
    if (s < buf.length) carry = Buffer.from(buf.subarray(s));
    yield* hits;
    hits.length = 0;
  }
  if (carry) test(carry, 0, carry.length); // a last line without LF
  yield* hits;
}

/**
 * The hits inside the objects of `streams` (one origin's) announced in the window, object by
 * object in the order of their `!blob` records' receive times; every object that is not
 * searched goes to `notes.skipped`, every damaged one to `notes.damaged`. `announced` holds
 * each stream's objects when the caller has read them already (search.ts), else they
 * are read here (listObjects).
 */
export async function* searchObjects(
  root: string,
  streams: readonly StreamRef[],
  w: Window,
  m: Matcher,
  notes: ObjectSearchNotes,
  announced?: ReadonlyMap<StreamRef, readonly ObjectRow[]>,
): AsyncGenerator<ObjectHit> {
  const skipped = notes.skipped;
  const rows: ObjectRow[] = [];
  for (const ref of streams) {
    const known = announced?.get(ref);
    const mine: ObjectRow[] = known ? [...known] : [];
    if (!known) for await (const row of listObjects(root, [ref], w)) mine.push(row);
    // one !blob per SHA-256 while stored: an earlier record of the same content was evicted
    const last = new Map(mine.map((r) => [r.sha256, r.seq]));
    for (const r of mine) {
      if (last.get(r.sha256) !== r.seq) skipped.push(skip(r, "no longer stored"));
      else rows.push(r);
    }
  }
  rows.sort((a, b) =>
    a.time !== b.time
      ? a.time < b.time
        ? -1
        : 1
      : a.stream !== b.stream
        ? a.stream < b.stream
          ? -1
          : 1
        : a.seq - b.seq,
  );
  for (const object of rows) {
    if (object.type !== "text") {
      skipped.push(skip(object, "not text"));
      continue;
    }
    const path = objectPath(streamDir(root, object.origin, object.stream), object.sha256);
    if (!existsSync(path)) {
      skipped.push(skip(object, "no longer stored"));
      continue;
    }
    try {
      for await (const h of objectLineHits(object, path, m)) yield { object, ...h };
    } catch (err) {
      if (!(err instanceof LogwardError) || err.code !== "LW_OBJECT_CORRUPT") throw err;
      notes.damaged.push(err.message);
    }
  }
}

function skip(o: ObjectRow, reason: SkippedObject["reason"]): SkippedObject {
  return { origin: o.origin, stream: o.stream, seq: o.seq, type: o.type, reason };
}

/** At most this many skipped objects are named (stderr, --json); the count is always whole. */
export const SKIPPED_LISTED = 20;

/** The one stderr sentence about objects that were not searched ("" when none). */
export function skippedSentence(skipped: readonly SkippedObject[]): string {
  if (skipped.length === 0) return "";
  const named = skipped
    .slice(0, SKIPPED_LISTED)
    .map(
      (s) => `${s.origin}/${s.stream} ${s.seq} (${s.type}${s.reason === "not text" ? "" : `, ${s.reason}`})`,
    )
    .join(", ");
  const more = skipped.length > SKIPPED_LISTED ? ` and ${skipped.length - SKIPPED_LISTED} more` : "";
  const n = skipped.length;
  return (
    `logward: ${n} object${n === 1 ? " was" : "s were"} not searched: ${named}${more}; ` +
    "only text objects are searched ('logward get ORIGIN/STREAM SEQ' gives an object's bytes).\n"
  );
}

/** The `--json` line about skipped objects. */
export function skippedJson(skipped: readonly SkippedObject[]): string {
  return `${JSON.stringify({
    kind: "objects-skipped",
    count: skipped.length,
    objects: skipped.slice(0, SKIPPED_LISTED).map((s) => ({
      origin: s.origin,
      stream: s.stream,
      seq: s.seq,
      type: s.type,
      reason: s.reason,
    })),
  })}\n`;
}

/** An object hit as `search --json` prints it. */
export function objectHitJson(h: ObjectHit): string {
  const o = h.object;
  return `${JSON.stringify({
    origin: o.origin,
    stream: o.stream,
    time: o.time,
    kind: "object-line",
    object_seq: o.seq,
    line: h.line,
    sha256: o.sha256,
    payload: h.escaped.toString("utf8"),
  })}\n`;
}
