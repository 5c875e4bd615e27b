// The durable state of `logward ship --blob/--blob-dir`: which contents (SHA-256) the collector
// has acknowledged, which it refused for good, and which file versions hash to what, so that an
// unchanged file is not hashed again at every scan and a copy or a rename of a shipped file is
// recognised and not sent again.
//
// On disk (docs/PROTOCOL.md, "The blob sender's state"): `<spool>/blobs.log`, the line
// `logward-blobs 1`, then one entry per line, `<crc32 of the JSON: 8 hex> <JSON>`:
//   {"t":"shipped","sha256":…,"size":…,"file":"dev:ino:size:mtimeNs:ctimeNs","path":…,"at":…}
//   {"t":"known",…}    this file version's content was already shipped (a copy, a rename)
//   {"t":"failed",…,"reason":…}   the collector refused this content for good (too large)
// Each entry is appended and fdatasync'd before anything depends on it (an entry is written
// only after the collector's durable acknowledgement, so a crash before it means the content
// is sent again, and the collector keeps one object per SHA-256). A torn last line (no LF, or a
// CRC that does not match) is cut at the next open. When the log holds more than twice its
// live entries it is rewritten (temporary file, fsync, rename, fsync of the directory).
//
// Bounded: live entries are those of files present at the last scan plus the newest
// `keepGone` entries of files that are gone. Forgetting an old SHA-256 only means that the same
// content, should it appear again, is offered again, and the collector answers that it already
// holds it.

import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { ioError } from "../errors.ts";
import { writeFileAtomic } from "../store/files.ts";

export const STATE_FILE = "blobs.log";
const HEADER = "logward-blobs 1\n";

export type EntryKind = "shipped" | "known" | "failed";

export interface BlobEntry {
  t: EntryKind;
  sha256: string;
  size: number;
  /** The file version: `dev:ino:size:mtimeNs:ctimeNs`. */
  file: string;
  path: string;
  /** When it was written (RFC 3339, this machine's clock). */
  at: string;
  /** For `failed`: the collector's words. */
  reason?: string;
}

export interface BlobStateOptions {
  /** Entries of files no longer present that are kept (newest first). */
  keepGone?: number;
  /** Forget earlier refusals (`--retry-failed`). */
  retryFailed?: boolean;
  warn?: (message: string) => void;
}

/** The CRC-32 of an entry's JSON as 8 hex digits. */
function crcHex(json: string): string {
  return crc32(Buffer.from(json, "utf8")).toString(16).padStart(8, "0");
}

function encode(e: BlobEntry): string {
  const json = JSON.stringify(e);
  return `${crcHex(json)} ${json}\n`;
}

function decode(line: string): BlobEntry | null {
  if (line.length < 10 || line[8] !== " ") return null;
  const json = line.slice(9);
  if (crcHex(json) !== line.slice(0, 8)) return null;
  try {
    const e = JSON.parse(json) as BlobEntry;
    if (
      (e.t !== "shipped" && e.t !== "known" && e.t !== "failed") ||
      !/^[0-9a-f]{64}$/.test(e.sha256) ||
      typeof e.file !== "string" ||
      typeof e.path !== "string"
    ) {
      return null;
    }
    return e;
  } catch {
    return null;
  }
}

export class BlobState {
  readonly path: string;
  private readonly keepGone: number;
  private readonly warn: (message: string) => void;
  /** Every entry in the log, oldest first (the last one for a file version wins). */
  private entries: BlobEntry[] = [];
  private readonly shipped = new Map<string, BlobEntry>();
  private readonly failed = new Map<string, BlobEntry>();
  /** File version -> SHA-256, from the log and from this run's hashing. */
  private readonly versions = new Map<string, string>();
  /** File version -> its last entry in the log. */
  private readonly byFile = new Map<string, BlobEntry>();
  private fd = -1;
  /** File versions seen by the last complete scan (for compaction). */
  private present = new Set<string>();

  private constructor(dir: string, opts: BlobStateOptions) {
    this.path = join(dir, STATE_FILE);
    this.keepGone = opts.keepGone ?? 10_000;
    this.warn = opts.warn ?? (() => {});
  }

  /** Opens (creating or recovering) the state in the spool directory `dir`. */
  static async open(dir: string, opts: BlobStateOptions = {}): Promise<BlobState> {
    const s = new BlobState(dir, opts);
    await s.load(opts.retryFailed ?? false);
    return s;
  }

  private async load(retryFailed: boolean): Promise<void> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("read", this.path, err);
      text = "";
    }
    let dropped = 0;
    const read: BlobEntry[] = [];
    if (text.startsWith(HEADER)) {
      const lines = text.slice(HEADER.length).split("\n");
      // the last element is what follows the last LF: empty, or a line torn by a crash
      const torn = lines.pop()!;
      if (torn !== "") dropped++;
      for (const line of lines) {
        const e = decode(line);
        if (e) read.push(e);
        else dropped++;
      }
    } else if (text !== "") {
      this.warn(
        `${this.path} is not a blob state file; starting a new one (what it named may be offered again)`,
      );
      dropped++;
    }
    for (const e of read) {
      if (retryFailed && e.t === "failed") dropped++;
      else this.take(e);
    }
    if (dropped > 0 || text === "") await this.rewrite();
    this.openAppend();
  }

  private take(e: BlobEntry): void {
    this.entries.push(e);
    this.versions.set(e.file, e.sha256);
    this.byFile.set(e.file, e);
    // a "known" entry says the content was shipped too: it keeps the SHA-256 shipped after the
    // "shipped" entry of a file long gone has been compacted away
    if (e.t === "failed") this.failed.set(e.sha256, e);
    else {
      this.shipped.set(e.sha256, e);
      this.failed.delete(e.sha256);
    }
  }

  private openAppend(): void {
    try {
      this.fd = openSync(this.path, "a", 0o600);
    } catch (err) {
      throw ioError("open", this.path, err);
    }
  }

  /** The SHA-256 of a file version hashed before, if any. */
  shaOf(version: string): string | undefined {
    return this.versions.get(version);
  }

  /** Remembers a hash for this run only (not written: it is cheap to compute again). */
  rememberHash(version: string, sha: string): void {
    this.versions.set(version, sha);
  }

  /** True if the log has an entry for this file version. */
  hasEntry(version: string): boolean {
    return this.byFile.has(version);
  }

  isShipped(sha: string): boolean {
    return this.shipped.has(sha);
  }

  failure(sha: string): BlobEntry | undefined {
    return this.failed.get(sha);
  }

  /** Appends an entry and fdatasyncs it; only then does it count. */
  async record(e: Omit<BlobEntry, "at">): Promise<void> {
    const entry: BlobEntry = { ...e, at: new Date().toISOString() };
    const line = Buffer.from(encode(entry), "utf8");
    try {
      let off = 0;
      while (off < line.length) off += writeSync(this.fd, line, off, line.length - off);
      fdatasyncSync(this.fd);
    } catch (err) {
      throw ioError("write", this.path, err);
    }
    this.take(entry);
    this.present.add(entry.file);
    if (this.entries.length > 1024) {
      const keep = this.live();
      if (this.entries.length > 2 * keep.length) await this.compact(keep);
    }
  }

  /** The file versions present at the end of a scan: their entries are kept by compaction. */
  setPresent(versions: Iterable<string>): void {
    this.present = new Set(versions);
    // the hashes of this run follow the files too
    for (const v of this.versions.keys())
      if (!this.present.has(v) && !this.byFile.has(v)) this.versions.delete(v);
  }

  private live(): BlobEntry[] {
    // the last entry per file version, and of those of files that are gone only the newest
    const all = this.entries.filter((e) => this.byFile.get(e.file) === e);
    const gone = all.filter((e) => !this.present.has(e.file));
    const dropGone = new Set(gone.slice(0, Math.max(0, gone.length - this.keepGone)));
    return all.filter((e) => !dropGone.has(e));
  }

  /** Rewrites the log with its live entries (`keep`) only. */
  private async compact(keep: BlobEntry[]): Promise<void> {
    this.entries = [];
    this.shipped.clear();
    this.failed.clear();
    this.versions.clear();
    this.byFile.clear();
    for (const e of keep) this.take(e);
    await this.rewrite();
    closeSync(this.fd);
    this.openAppend();
  }

  private async rewrite(): Promise<void> {
    await writeFileAtomic(this.path, HEADER + this.entries.map(encode).join(""));
  }

  get entryCount(): number {
    return this.entries.length;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
