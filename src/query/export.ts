// Export archives (`logward export`, the web UI's download): the selected records of each
// stream as one zstd-compressed tar with a README for the recipient and a manifest (streams,
// time and sequence ranges, record counts, SHA-256 of each member). The archive is written to
// `<target>.partial`, fsync'd, then renamed, so a crash never leaves a half archive under the
// final name.

import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync } from "node:fs";
import { access, open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createZstdCompress } from "node:zlib";
import { ioError, LogwardError } from "../errors.ts";
import { BLOB_EXTENSIONS, type BlobType } from "../store/blob-type.ts";
import { collectDamage, passOn } from "../store/damage.ts";
import { isDisplaySafe } from "../store/escape.ts";
import { objectPath } from "../store/layout.ts";
import { streamDir } from "../store/names.ts";
import type { StreamRef, Window } from "../store/read.ts";
import { parseLine } from "../store/record.ts";
import { escapedAgain, Output } from "./emit.ts";
import { listObjects, objectBytes, type StoredObject } from "./objects.ts";
import { privateDir } from "./open.ts";
import { readRecords } from "./records.ts";
import { TAR_END, tarHeader, tarPadding } from "./tar.ts";

export const MANIFEST = "manifest.json";
export const README = "README.txt";
export const MAX_SMALL_MEMBER = 16 * 1024 * 1024;

export interface MemberInfo {
  path: string;
  origin: string;
  stream: string;
  records: number;
  first_time: string | null;
  last_time: string | null;
  first_seq: number | null;
  last_seq: number | null;
  bytes: number;
  sha256: string;
  /**
   * Ranges of the stream the store could not read back (a damaged frame, EIO) and that the
   * member therefore lacks. Only present when there were some: the gap is written down in
   * the manifest, never hidden by the sequence numbers simply jumping.
   */
  damaged?: DamagedMember[];
}

/** A damaged range as the manifest records it. */
export interface DamagedMember {
  first_seq: number;
  last_seq: number;
  first_time: string;
  last_time: string;
  /** The segment file the range was in, and why it could not be read (fixed strings). */
  file: string;
  reason: string;
}

/** An object (blob stream) in the archive: its exact bytes, named by SHA-256 and type. */
export interface ObjectMemberInfo {
  path: string;
  origin: string;
  stream: string;
  /** The seq of its `!blob` record (in the stream's .log member). */
  seq: number;
  time: string;
  type: BlobType;
  size: number;
  sha256: string;
}

/** The member that holds a stream's records. */
export const logMemberPath = (origin: string, stream: string): string => `origins/${origin}/${stream}.log`;

/** The member that holds an object's bytes: named by its SHA-256 and its type's extension. */
export const objectMemberPath = (o: {
  origin: string;
  stream: string;
  sha256: string;
  type: BlobType;
}): string => `objects/${o.origin}/${o.stream}/${o.sha256}${BLOB_EXTENSIONS[o.type]}`;

/** Not existsSync: the web UI's export runs on the collector's event loop. */
const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/** The objects of `ref` announced in `w` and still stored, one per SHA-256 (its latest record). */
async function selectObjects(root: string, ref: StreamRef, w: Window): Promise<StoredObject[]> {
  const bySha = new Map<string, StoredObject>();
  const dir = streamDir(root, ref.origin, ref.stream);
  for await (const o of listObjects(root, [ref], w)) {
    const path = objectPath(dir, o.sha256);
    if (await exists(path)) bySha.set(o.sha256, { ...o, path });
  }
  return [...bySha.values()].sort((a, b) => a.seq - b.seq);
}

const readme = (m: {
  created: string;
  since: string | null;
  until: string | null;
}) => `This archive was written by logward export on ${m.created}.

It holds log records kept by a logward collector. Each file origins/<origin>/<stream>.log is
one stream: one record per line, "<receive time> <seq> <kind> <payload>", where the receive
time is the collector's clock (UTC), seq counts the stream's records, kind "." is a record the
sender sent and "!name" one the collector wrote (session open/close, gaps, cuts, removals).
Payloads are escaped (\\\\, \\\\t, \\\\n, \\\\r, \\\\xHH, \\\\uHHHH), so no file here holds control
characters: it is safe to view with any text tool.

The sender's original bytes (what 'logward show --raw' prints): take the "." records in
order, unescape each payload (\\\\xHH is that one byte, \\\\uHHHH that code point in UTF-8) and
end it with LF, except the record a "!nolf seq=N" line names (seq N, right after it): no LF
followed that one (a last line sent without LF). A record followed by "!trunc" was cut.

Opaque objects (EVTX, BSM, pcap, ... sent whole to a blob stream) are the files
objects/<origin>/<stream>/<sha256>.<type>: their exact bytes, announced in the stream's .log
by a "!blob sha256=... size=... type=..." record (manifest.json "objects" has its seq). Check
one with 'sha256sum'. An object evicted before the export is not in it (its "!evict" record is).

Selection: ${m.since ?? "from the first record"} to ${m.until ?? "the last"} (receive time).

manifest.json lists every file with its record count, time and sequence range, and SHA-256.
A stream the collector's disk could not read back whole has a "damaged" list there: the
sequence and time ranges missing from its .log, and why. Nothing else is left out.
Check them with 'logward verify-export <this archive>', or by hand after unpacking:
  zstd -d < archive.tar.zst | tar -x && sha256sum origins/*/*.log
and compare with manifest.json.
`;

/**
 * Writes the archive of `refs` within `w` to `target`. `onStream` is called after each stream's
 * selection is written (for progress). Throws LW_NOT_FOUND when the selection is empty.
 */
export async function writeArchive(
  root: string,
  refs: readonly StreamRef[],
  w: Window,
  nowUs: number,
  target: string,
  onStream?: () => void,
): Promise<{ records: number; streams: number; damagedRecords: number }> {
  const { since, until } = w;
  const { dir: work, remove } = privateDir("logward-export-");
  try {
    // each stream's selection to a private file first: a tar header needs the size up front
    const members: MemberInfo[] = [];
    for (const ref of refs) {
      members.push(await writeMember(root, ref, { since, until }, work));
      onStream?.();
    }
    // a stream whose every selected record was damaged stays in: its member is empty, its gap listed
    const selected = members.filter((m) => m.records > 0 || m.damaged);
    // objects go in whole, streamed from the store and checked against their SHA-256 on the way
    const objects: { info: ObjectMemberInfo; stored: StoredObject }[] = [];
    for (const ref of refs) {
      for (const o of await selectObjects(root, ref, { since, until })) {
        const info: ObjectMemberInfo = {
          path: objectMemberPath(o),
          origin: o.origin,
          stream: o.stream,
          seq: o.seq,
          time: o.time,
          type: o.type,
          size: o.size,
          sha256: o.sha256,
        };
        objects.push({ info, stored: o });
      }
    }
    if (selected.length === 0)
      throw new LogwardError("LW_NOT_FOUND", "No records in that selection; nothing to export.");
    const created = new Date(nowUs / 1000).toISOString();
    const manifest = Buffer.from(
      `${JSON.stringify({ format: "logward-export 1", created, since: since ?? null, until: until ?? null, members: selected, objects: objects.map((o) => o.info) }, null, 2)}\n`,
    );
    const text = Buffer.from(readme({ created, since: since ?? null, until: until ?? null }));
    const partial = `${target}.partial`;
    const mtime = Math.floor(nowUs / 1e6);
    async function* archive(): AsyncGenerator<Buffer> {
      yield tarHeader("", README, text.length, mtime);
      yield text;
      yield tarPadding(text.length);
      yield tarHeader("", MANIFEST, manifest.length, mtime);
      yield manifest;
      yield tarPadding(manifest.length);
      for (const m of selected) {
        yield tarHeader(dirname(m.path), basename(m.path), m.bytes, mtime);
        for await (const chunk of createReadStream(join(work, m.path))) yield chunk as Buffer;
        yield tarPadding(m.bytes);
      }
      for (const { info, stored } of objects) {
        yield tarHeader(dirname(info.path), basename(info.path), info.size, mtime);
        for await (const chunk of objectBytes(stored) as AsyncIterable<Buffer>) yield chunk;
        yield tarPadding(info.size);
      }
      yield TAR_END;
    }
    try {
      await pipeline(archive, createZstdCompress(), createWriteStream(partial, { mode: 0o640 }));
      const fh = await open(partial, "r+");
      await fh.datasync();
      await fh.close();
      renameSync(partial, target);
    } catch (err) {
      // a full disk or a missing directory: no half archive is left under either name
      rmSync(partial, { force: true });
      if (err instanceof LogwardError) throw err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new LogwardError(
          "LW_USAGE",
          `The directory ${dirname(target)} does not exist; create it or write the archive elsewhere.`,
        );
      throw ioError("write", target, err);
    }
    const damagedRecords = selected.reduce(
      (n, m) => n + (m.damaged ?? []).reduce((k, d) => k + d.last_seq - d.first_seq + 1, 0),
      0,
    );
    return { records: selected.reduce((n, m) => n + m.records, 0), streams: selected.length, damagedRecords };
  } finally {
    remove();
  }
}

async function writeMember(
  root: string,
  ref: StreamRef,
  w: { since?: string; until?: string },
  work: string,
): Promise<MemberInfo> {
  const path = logMemberPath(ref.origin, ref.stream);
  mkdirSync(join(work, "origins", ref.origin), { recursive: true, mode: 0o700 });
  const file = join(work, path);
  const out = new Output(createWriteStream(file, { mode: 0o600 }), file);
  const hash = createHash("sha256");
  const info: MemberInfo = {
    path,
    origin: ref.origin,
    stream: ref.stream,
    records: 0,
    first_time: null,
    last_time: null,
    first_seq: null,
    last_seq: null,
    bytes: 0,
    sha256: "",
  };
  // the ranges the reader skips are printed as usual and written into the manifest
  const { damaged } = await collectDamage(async () => {
    for await (const v of readRecords(root, [ref], w)) {
      // as show prints it: a line that is not display-safe (an edited or damaged segment) is
      // escaped again, never copied as it is (verify-export would refuse the archive)
      const line = isDisplaySafe(v.block, v.start, v.end)
        ? v.block.subarray(v.start, v.end + 1)
        : escapedAgain(v.block, v.start, v.end);
      const p = parseLine(v.block, v.start, v.end);
      if (p) {
        info.first_time ??= p.time;
        info.first_seq ??= p.seq;
        info.last_time = p.time;
        info.last_seq = p.seq;
      }
      info.records++;
      info.bytes += line.length;
      hash.update(line);
      const wait = out.write(line); // copied into the writer's buffer: the reader reuses its blocks
      if (wait) await wait;
    }
  });
  for (const d of damaged) passOn(d);
  if (damaged.length > 0)
    info.damaged = damaged.map((d) => ({
      first_seq: d.firstSeq,
      last_seq: d.lastSeq,
      first_time: d.firstTime,
      last_time: d.lastTime,
      file: d.file,
      reason: d.reason,
    }));
  await out.end();
  info.sha256 = hash.digest("hex");
  return info;
}
