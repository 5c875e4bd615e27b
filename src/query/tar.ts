// A minimal POSIX ustar writer and reader, for export archives: regular files only, names as
// prefix (a directory, at most 155 bytes) and name (at most 100 bytes). Enough for what logward
// writes; the reader refuses anything else rather than guess.

import { escapeText } from "../store/escape.ts";

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** The 512-byte header of a regular file `dir/name` of `size` bytes. */
export function tarHeader(dir: string, name: string, size: number, mtimeS: number): Buffer {
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(dir) > 155)
    throw new Error(`tar name too long: ${dir}/${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, "utf8");
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(mtimeS, 12), 136, "latin1");
  h.write("        ", 148, "latin1"); // checksum field counts as spaces
  h.write("0", 156, "latin1");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  h.write(dir, 345, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7), 148, "latin1");
  h[155] = 0x20;
  return h;
}

/** The bytes a member of `size` bytes takes in the archive: its header, data and padding. */
export function tarMemberBytes(size: number): number {
  return BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

export const TAR_END = Buffer.alloc(2 * BLOCK);

/** What the reader reports of each member: its path, size, and bytes as they stream by. */
export interface TarSink {
  member(path: string, size: number): void;
  data(chunk: Buffer): void;
  end(): void;
}

/**
 * Reads a ustar stream chunk by chunk, holding at most one header: member bytes are handed
 * to the sink as they come. Throws on anything malformed (a bad checksum, a member that is not
 * a regular file, a stream that stops inside a member).
 */
export class TarReader {
  private readonly sink: TarSink;
  private head = Buffer.alloc(BLOCK);
  private headLen = 0;
  private left = 0; // member bytes still to come
  private pad = 0; // padding bytes still to skip
  private inMember = false;
  private done = false;
  private offset = 0;

  constructor(sink: TarSink) {
    this.sink = sink;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && !this.done) {
      if (this.inMember) {
        const take = Math.min(this.left, chunk.length - i);
        if (take > 0) this.sink.data(chunk.subarray(i, i + take));
        this.left -= take;
        i += take;
        if (this.left === 0) {
          this.sink.end();
          this.inMember = false;
        }
        continue;
      }
      if (this.pad > 0) {
        const take = Math.min(this.pad, chunk.length - i);
        this.pad -= take;
        i += take;
        continue;
      }
      const take = Math.min(BLOCK - this.headLen, chunk.length - i);
      chunk.copy(this.head, this.headLen, i, i + take);
      this.headLen += take;
      i += take;
      if (this.headLen === BLOCK) {
        this.headLen = 0;
        this.header();
        this.offset += BLOCK;
      }
    }
  }

  /** The stream ended: it must have ended after the end marker. */
  end(): void {
    if (!this.done) throw new Error("the archive ends before its end marker (cut short?)");
  }

  private header(): void {
    const h = this.head;
    if (h.every((b) => b === 0)) {
      this.done = true;
      return;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    const stored = Number.parseInt(h.toString("latin1", 148, 155).replace(/\0.*$/, "").trim(), 8);
    if (sum !== stored) throw new Error(`a tar header checksum does not match (member ${this.offset})`);
    if (h[156] !== 0x30 && h[156] !== 0) throw new Error("a tar member is not a regular file");
    const name = h.toString("utf8", 0, 100).replace(/\0.*$/s, "");
    const prefix = h.toString("utf8", 345, 500).replace(/\0.*$/s, "");
    const size = Number.parseInt(h.toString("latin1", 124, 135), 8);
    // the name is the archive's: escaped, as every name verify-export prints
    if (!Number.isSafeInteger(size) || size < 0)
      throw new Error(`tar member ${escapeText(name).slice(0, 300)} has a bad size`);
    this.sink.member(prefix ? `${prefix}/${name}` : name, size);
    this.left = size;
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    this.inMember = true;
    if (size === 0) {
      this.sink.end();
      this.inMember = false;
    }
  }
}
