// The type of an opaque object (`logward ingest --format blob`), from its first bytes only.
// The collector never parses an object (DESIGN.md principle 4): this table of magic bytes is
// all it looks at, and the type only picks a viewer, a file extension and whether `search`
// and a terminal may see the bytes. docs/FORMAT.md has the same table.

import { isUtf8 } from "node:buffer";

/** How many leading bytes decide the type (and whether an object is text). */
export const SNIFF_BYTES = 64 * 1024;

export const BLOB_TYPES = ["evtx", "bsm", "pcap", "pcapng", "gzip", "zstd", "text", "binary"] as const;
export type BlobType = (typeof BLOB_TYPES)[number];

/** The file name extension of each type (never `.raw`: desktop MIME maps it to camera images). */
export const BLOB_EXTENSIONS: Readonly<Record<BlobType, string>> = Object.freeze({
  evtx: ".evtx",
  bsm: ".bsm",
  pcap: ".pcap",
  pcapng: ".pcapng",
  gzip: ".gz",
  zstd: ".zst",
  text: ".txt",
  binary: ".bin",
});

export function isBlobType(t: string): t is BlobType {
  return (BLOB_TYPES as readonly string[]).includes(t);
}

const EVTX = Buffer.from("ElfFile\0", "latin1");
const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1];
// BSM header tokens: AUT_HEADER32 0x14, AUT_HEADER32_EX 0x15, AUT_HEADER64 0x74, AUT_HEADER64_EX 0x79
const BSM_HEADERS = [0x14, 0x15, 0x74, 0x79];
// header versions seen in the wild: Solaris 1/2, OpenBSM 10/11
const BSM_VERSIONS = [1, 2, 10, 11];

/**
 * The type of an object whose first bytes are `head` (at most SNIFF_BYTES of them; all of it
 * if the object is shorter, then `complete` is true).
 */
export function detectType(head: Buffer, complete: boolean): BlobType {
  if (head.length >= 8 && head.subarray(0, 8).equals(EVTX)) return "evtx";
  if (head.length >= 4) {
    const be = head.readUInt32BE(0);
    if (be === 0x0a0d0d0a) return "pcapng"; // Section Header Block
    if (PCAP_MAGICS.includes(be)) return "pcap";
    if (be === 0x28b52ffd) return "zstd";
  }
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return "gzip";
  if (
    head.length >= 18 &&
    BSM_HEADERS.includes(head[0]!) &&
    BSM_VERSIONS.includes(head[5]!) &&
    head.readUInt32BE(1) >= 18
  )
    return "bsm";
  return isText(head, complete) ? "text" : "binary";
}

/**
 * Text: well-formed UTF-8 without a NUL byte. A multi-byte character cut by the end of the
 * sniffed bytes (the object goes on) still counts as text.
 */
function isText(head: Buffer, complete: boolean): boolean {
  if (head.length === 0) return true;
  if (head.includes(0)) return false;
  let end = head.length;
  if (!complete) {
    // step back over an unfinished character at the cut: up to 3 continuation bytes and its lead
    let k = end - 1;
    while (k > end - 4 && k > 0 && (head[k]! & 0xc0) === 0x80) k--;
    const lead = head[k]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (need > end - k) end = k;
  }
  return isUtf8(head.subarray(0, end));
}
