// Checkpoints (docs/SEALS.md): the newest seal of every stream, in a small JSON file MAC'd with
// the sealing key of its epoch. Kept outside the log qube, it lets `verify --checkpoint` prove
// the store still reaches those seals: what a chain alone cannot show (its newest records cut
// off together with their seals, a whole stream or origin deleted) shows against it.

import { createHmac, timingSafeEqual } from "node:crypto";
import { LogwardError } from "../errors.ts";
import type { EpochKey } from "../store/seal-format.ts";
import { epochAt, type KeyDeriver } from "./key.ts";

export const CHECKPOINT_FORMAT = "logward-checkpoint 1";

export interface CheckpointEntry {
  origin: string;
  stream: string;
  seq: number;
  mac: string;
}

export interface Checkpoint {
  created: string;
  key: string;
  epoch: number;
  streams: CheckpointEntry[];
}

/** The bytes the checkpoint's MAC covers: its fields as JSON, in this order. */
function macText(c: Checkpoint): string {
  const streams = c.streams.map((e) => ({ origin: e.origin, stream: e.stream, seq: e.seq, mac: e.mac }));
  return JSON.stringify({
    format: CHECKPOINT_FORMAT,
    created: c.created,
    key: c.key,
    epoch: c.epoch,
    streams,
  });
}

/** The checkpoint file's text (one line of JSON and LF). */
export function writeCheckpoint(streams: CheckpointEntry[], key: EpochKey, created: string): string {
  const sorted = [...streams].sort((a, b) =>
    a.origin === b.origin ? (a.stream < b.stream ? -1 : 1) : a.origin < b.origin ? -1 : 1,
  );
  const c: Checkpoint = { created, key: key.keyId, epoch: key.epoch, streams: sorted };
  const text = macText(c);
  const mac = createHmac("sha256", key.key).update(text).digest("hex");
  return `${text.slice(0, -1)},"mac":"${mac}"}\n`;
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Reads and authenticates a checkpoint; LW_CHECKPOINT_INVALID names what is wrong. */
export function readCheckpoint(text: string, keys: KeyDeriver, file: string): Checkpoint {
  const bad = (why: string) => new LogwardError("LW_CHECKPOINT_INVALID", `The checkpoint ${file} ${why}.`);
  if (text.length > 64 * 1024 * 1024) throw bad("is too large to be one");
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad("is not JSON");
  }
  if (doc?.format !== CHECKPOINT_FORMAT)
    throw bad(`is not a logward checkpoint ("format": "${CHECKPOINT_FORMAT}")`);
  const { created, key, epoch, streams, mac } = doc;
  if (
    typeof created !== "string" ||
    typeof key !== "string" ||
    !/^[0-9a-f]{16}$/.test(key) ||
    !Number.isSafeInteger(epoch) ||
    (epoch as number) < 1 ||
    !Array.isArray(streams) ||
    typeof mac !== "string" ||
    !/^[0-9a-f]{64}$/.test(mac)
  )
    throw bad("lacks a field or has one of the wrong type");
  for (const e of streams as CheckpointEntry[]) {
    if (
      !e ||
      typeof e.origin !== "string" ||
      !NAME_RE.test(e.origin) ||
      typeof e.stream !== "string" ||
      !NAME_RE.test(e.stream) ||
      !Number.isSafeInteger(e.seq) ||
      typeof e.mac !== "string" ||
      !/^[0-9a-f]{64}$/.test(e.mac)
    )
      throw bad("has a stream entry that is not origin, stream, seq and mac");
  }
  if (key !== keys.keyId)
    throw bad(`was made with another verification key (id ${key}, yours is ${keys.keyId})`);
  // each epoch's key is one HMAC after the last: an epoch that has not begun is refused before
  // deriving it, or a crafted 2^53 would keep verify busy for ever
  if ((epoch as number) > epochAt(keys, Date.now() * 1000) + 1)
    throw bad(`is from epoch ${epoch}, which has not begun`);
  const c: Checkpoint = { created, key, epoch: epoch as number, streams: streams as CheckpointEntry[] };
  const want = createHmac("sha256", keys.at(c.epoch)).update(macText(c)).digest();
  const got = Buffer.from(mac, "hex");
  if (!timingSafeEqual(want, got))
    throw bad("is not authentic: its MAC does not match (changed, or not made by this store)");
  return c;
}
