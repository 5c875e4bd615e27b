// Reading opaque objects (`logward get`, `open --seq`, export, search): find the `!blob`
// record a seq names, and stream the object's bytes back while checking its SHA-256. An
// object is never held in memory whole (objects go up to 1 GiB).

import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { Transform } from "node:stream";
import { createZstdDecompress } from "node:zlib";
import { LogwardError } from "../errors.ts";
import type { BlobType } from "../store/blob-type.ts";
import { READ_NOFOLLOW } from "../store/files.ts";
import { objectPath } from "../store/layout.ts";
import { streamDir } from "../store/names.ts";
import { BLOB_MARK, markedLines, parseBlobPayload } from "../store/objects.ts";
import { readStreamLines, seekTimeForSeq, streamSegments } from "../store/read.ts";
import { LF, parseLine } from "../store/record.ts";

export interface StoredObject {
  origin: string;
  stream: string;
  seq: number;
  time: string;
  sha256: string;
  size: number;
  type: BlobType;
  stored: number;
  /** The compressed file. */
  path: string;
}

/** The object the `!blob` record `seq` of origin/stream announced; one clear error otherwise. */
export async function findObject(
  root: string,
  origin: string,
  stream: string,
  seq: number,
): Promise<StoredObject> {
  const name = `${origin}/${stream}`;
  const segs = await streamSegments(root, origin, stream);
  if (segs.length === 0)
    throw new LogwardError("LW_NOT_FOUND", `The stream ${name} has no records in the store.`);
  const since = await seekTimeForSeq(root, { origin, stream }, segs, seq);
  for await (const block of readStreamLines(root, origin, stream, { since })) {
    let ls = 0;
    while (ls < block.length) {
      let le = block.indexOf(LF, ls);
      if (le === -1) le = block.length;
      const p = parseLine(block, ls, le);
      if (p && p.seq > seq) break;
      if (p && p.seq === seq) {
        const b =
          p.kind === "!blob"
            ? parseBlobPayload(block.toString("latin1", p.payloadStart, p.payloadEnd))
            : null;
        if (!b)
          throw new LogwardError(
            "LW_NOT_OBJECT",
            `Record ${seq} of ${name} is not an object (it is a ${p.kind === "." ? "sender record" : `${p.kind} record`}); 'logward show ${name}' lists the objects.`,
          );
        const path = objectPath(streamDir(root, origin, stream), b.sha256);
        if (!existsSync(path))
          throw new LogwardError(
            "LW_OBJECT_GONE",
            `Object ${seq} of ${name} (sha256 ${b.sha256.slice(0, 16)}…) is no longer stored: it was evicted to stay within a quota or retention (see the stream's !evict records).`,
          );
        return { origin, stream, seq, time: p.time, ...b, path };
      }
      ls = le + 1;
    }
  }
  throw new LogwardError(
    "LW_NOT_FOUND",
    `The stream ${name} has no record ${seq} (evicted, deleted, or not yet written).`,
  );
}

/**
 * The object's bytes as a stream; the stream fails (LW_OBJECT_CORRUPT) at its end if they do
 * not have the recorded SHA-256 and size, so a tampered or damaged object never passes as good.
 */
export function objectBytes(o: StoredObject): NodeJS.ReadableStream & import("node:stream").Readable {
  const hash = createHash("sha256");
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      const got = hash.digest("hex");
      if (got !== o.sha256 || size !== o.size)
        done(
          new LogwardError(
            "LW_OBJECT_CORRUPT",
            `Object ${o.seq} of ${o.origin}/${o.stream} does not match its record (sha256 ${got.slice(0, 16)}…, ${size} bytes; recorded ${o.sha256.slice(0, 16)}…, ${o.size} bytes): the file ${o.path} was changed or damaged.`,
          ),
        );
      else done();
    },
  });
  // O_NOFOLLOW: a link planted with an object's name is refused (ELOOP), never read through
  // (fs.open takes numeric flags; @types/node declares only the string ones here)
  const file = createReadStream(o.path, { flags: READ_NOFOLLOW as unknown as string });
  const z = createZstdDecompress();
  const fail = (err: Error) =>
    check.destroy(
      err instanceof LogwardError
        ? err
        : new LogwardError(
            "LW_OBJECT_CORRUPT",
            `Object ${o.seq} of ${o.origin}/${o.stream} cannot be read back (${err.message}): the file ${o.path} was changed or damaged.`,
          ),
    );
  file.on("error", fail);
  z.on("error", fail);
  check.on("close", () => {
    file.destroy();
    z.destroy();
  });
  file.pipe(z).pipe(check);
  return check;
}

export interface ObjectRow {
  origin: string;
  stream: string;
  time: string;
  seq: number;
  sha256: string;
  size: number;
  type: BlobType;
  stored: number;
}

/**
 * Every object announced in the window, stream after stream, in seq order (whether or not it
 * is still stored: `findObject` says). Parses only lines that hold " !blob ".
 */
export async function* listObjects(
  root: string,
  refs: readonly { origin: string; stream: string }[],
  w: { since?: string | undefined; until?: string | undefined },
): AsyncGenerator<ObjectRow> {
  for (const { origin, stream } of refs) {
    for await (const block of readStreamLines(root, origin, stream, w)) {
      for (const p of markedLines(block, [BLOB_MARK])) {
        if (p.kind !== "!blob") continue;
        if ((w.since !== undefined && p.time < w.since) || (w.until !== undefined && p.time >= w.until))
          continue;
        const b = parseBlobPayload(block.toString("latin1", p.payloadStart, p.payloadEnd));
        if (b) yield { origin, stream, time: p.time, seq: p.seq, ...b };
      }
    }
  }
}

/** One object as `show --objects` prints it. */
export function objectLine(o: ObjectRow, withStream: boolean): string {
  return `${o.time} ${withStream ? `[${o.stream}] ` : ""}${o.seq} ${o.size} ${o.type} ${o.sha256}\n`;
}

export function objectJson(o: ObjectRow): string {
  return `${JSON.stringify({ origin: o.origin, stream: o.stream, time: o.time, seq: o.seq, size: o.size, type: o.type, sha256: o.sha256, stored: o.stored })}\n`;
}
