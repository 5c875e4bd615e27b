// `logward verify-export`: reads an archive export wrote (export.ts) and checks it against its
// manifest with the rules of export-check.ts: every member the manifest lists is there with its
// size, record count and SHA-256, every object with its SHA-256, and nothing else is. The
// archive is hostile input: it is read as one stream, never unpacked, and decompression is
// bounded by what its manifest declares.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createZstdDecompress } from "node:zlib";
import { LogwardError } from "../errors.ts";
import { MANIFEST, README } from "./export.ts";
import {
  BEFORE_MANIFEST_BYTES,
  type CheckedManifest,
  checkManifest,
  damagedCount,
  isExportName,
  MAX_MANIFEST_BYTES,
  MAX_README_BYTES,
  shown,
  TAR_SLACK_BYTES,
  TextMemberCheck,
  unsafeNameProblem,
} from "./export-check.ts";
import { TarReader } from "./tar.ts";

/** What a verified archive holds. */
export interface VerifiedArchive {
  streams: number;
  records: number;
  /** Records the manifest says the exporter could not read from its store (damaged ranges). */
  damagedRecords: number;
  objects: number;
}

/** Hears one stream member's bytes as they are read (`verify-export --key` checks its seals). */
export interface MemberListener {
  data(chunk: Buffer): void;
  end(): void;
}

/**
 * Verifies the archive `file` (an absolute path, named as is in the errors): LW_EXPORT_INVALID
 * names the first problem, LW_NOT_FOUND a missing file. `onRead` hears the compressed bytes
 * read (for progress); `onStream`, if given, is asked for a listener of each stream member
 * the manifest lists, as its header arrives.
 */
export async function verifyArchive(
  file: string,
  onRead?: (bytes: number) => void,
  onStream?: (origin: string, stream: string) => MemberListener,
): Promise<VerifiedArchive> {
  const seen = new Map<string, { size: number; sha256: string; lines: number }>();
  // the manifest comes second (export writes README.txt, manifest.json, then the members): every
  // later member is checked against it as its header arrives, and decompression is bounded by
  // what it declares, so a crafted archive fails at its first wrong byte, never after gigabytes
  let checked: CheckedManifest | null = null;
  let limit = BEFORE_MANIFEST_BYTES;
  let decompressed = 0;
  let current: {
    path: string;
    size: number;
    hash: ReturnType<typeof createHash>;
    lines: number;
    keep: Buffer[] | null;
    text: TextMemberCheck | null;
    listener: MemberListener | null;
  } | null = null;
  const reader = new TarReader({
    member(path, size) {
      const unsafe = unsafeNameProblem(path);
      if (unsafe) throw new Error(`the member ${shown(path)} ${unsafe}`);
      if (seen.has(path)) throw new Error(`the member ${shown(path)} is in the archive twice`);
      if (!isExportName(path))
        throw new Error(`the member ${shown(path)} is not a member logward export writes`);
      let text: TextMemberCheck | null = null;
      let listener: MemberListener | null = null;
      if (path === README) {
        if (size > MAX_README_BYTES)
          throw new Error(`its ${README} is larger than any logward export writes`);
        text = new TextMemberCheck(path, null);
      } else if (path === MANIFEST) {
        if (size > MAX_MANIFEST_BYTES)
          throw new Error(`its ${MANIFEST} is larger than ${MAX_MANIFEST_BYTES} bytes`);
      } else {
        if (!checked) throw new Error(`the member ${shown(path)} comes before the manifest`);
        const want = checked.expected.get(path);
        if (!want) throw new Error(`the member ${shown(path)} is not in the manifest`);
        if (size !== want.bytes)
          throw new Error(`the member ${shown(path)} has ${size} bytes, the manifest says ${want.bytes}`);
        if (want.kind === "log") text = new TextMemberCheck(path, want.records);
        if (want.kind === "log" && onStream) {
          const m = checked.members.find((x) => x.path === path)!;
          listener = onStream(m.origin, m.stream);
        }
      }
      current = {
        path,
        size,
        hash: createHash("sha256"),
        lines: 0,
        keep: path === MANIFEST ? [] : null,
        text,
        listener,
      };
    },
    data(chunk) {
      const c = current!;
      c.hash.update(chunk);
      c.text?.push(chunk);
      c.listener?.data(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) c.lines++;
      c.keep?.push(Buffer.from(chunk));
    },
    end() {
      const c = current!;
      c.text?.end();
      c.listener?.end();
      if (c.keep) {
        checked = checkManifest(Buffer.concat(c.keep).toString("utf8"));
        limit = decompressed + checked.memberTarBytes + TAR_SLACK_BYTES;
      }
      seen.set(c.path, { size: c.size, sha256: c.hash.digest("hex"), lines: c.lines });
      current = null;
    },
  });
  const fail = (why: string): never => {
    throw new LogwardError("LW_EXPORT_INVALID", `${file} does not verify: ${why}.`);
  };
  try {
    const input = createReadStream(file);
    if (onRead) input.on("data", (c) => onRead(c.length));
    await pipeline(input, createZstdDecompress(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        // counted before it is read: a bomb stops here, at most one chunk past the bound
        decompressed += chunk.length;
        if (decompressed > limit)
          throw new Error(
            checked
              ? `it decompresses to more than the ${limit} bytes its manifest declares`
              : `it decompresses to more than ${limit} bytes before its manifest`,
          );
        reader.push(chunk);
      }
      reader.end();
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new LogwardError("LW_NOT_FOUND", `There is no file ${file}.`);
    fail((err as Error).message);
  }
  const manifest = checked as CheckedManifest | null;
  if (!manifest) return fail("its manifest.json is missing or not JSON");
  let records = 0;
  for (const m of manifest.members) {
    const got = seen.get(m.path);
    if (!got) fail(`the member ${shown(m.path)} listed in the manifest is missing`);
    if (got!.sha256 !== m.sha256)
      fail(`the member ${shown(m.path)} does not match its SHA-256 in the manifest (changed after export)`);
    if (got!.lines !== m.records)
      fail(`the member ${shown(m.path)} has ${got!.lines} records, the manifest says ${m.records}`);
    records += m.records;
  }
  // objects (blob streams): their bytes must have the SHA-256 and size their record gave
  for (const o of manifest.objects) {
    const got = seen.get(o.path);
    if (!got) fail(`the object ${shown(o.path)} listed in the manifest is missing`);
    if (got!.sha256 !== o.sha256)
      fail(`the object ${shown(o.path)} does not match its SHA-256 in the manifest (changed after export)`);
  }
  const damagedRecords = manifest.members.reduce((n, m) => n + damagedCount(m), 0);
  return { streams: manifest.members.length, records, objects: manifest.objects.length, damagedRecords };
}
