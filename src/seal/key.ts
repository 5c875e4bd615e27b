// The sealing keys (docs/SEALS.md): a one-way chain from the verification key. `seal init` draws
// k0 (32 random bytes), prints it once and keeps only k1 in run/seal.key. Epochs are spans of
// time: epoch i runs from start + (i-1)·length, and its key is k(i) = HMAC-SHA-256(k(i-1),
// "logward seal key"). When an epoch ends the collector replaces the file with the next key, so
// whoever reads the file in epoch i can make seals of epoch i and later, and a seal of epoch i
// must bear a time within or after epoch i: old records cannot be resealed under an old time.
// The verification key holds k0, the start and the length (the verifier needs all three); its
// printed form is base32 with a checksum, so a typo is caught. Also here: the key id seals carry.

import { createHash, createHmac, randomBytes } from "node:crypto";
import { ioError, LogwardError } from "../errors.ts";
import { readFileNoFollow, writeFileAtomic } from "../store/files.ts";
import type { EpochKey } from "../store/seal-format.ts";

const NEXT_LABEL = "logward seal key";
const ID_LABEL = "logward seal key id";
const FILE_MAGIC = "logward-seal-key 1";

/** k(i+1) from k(i): one way. */
export function nextKey(key: Buffer): Buffer {
  return createHmac("sha256", key).update(NEXT_LABEL).digest();
}

/** The id seals carry: names the verification key without revealing it (16 hex digits). */
export function keyIdOf(k0: Buffer): string {
  return createHmac("sha256", k0).update(ID_LABEL).digest("hex").slice(0, 16);
}

/** What `seal init` prints: the root key and the epochs' schedule (seconds since 1970). */
export interface VerificationKey {
  k0: Buffer;
  startS: number;
  epochS: number;
}

/** The epoch a time (µs since 1970) falls in: 1 for the first epoch (earlier times too). */
export function epochAt(v: { startS: number; epochS: number }, us: number): number {
  return Math.max(1, Math.floor((us / 1e6 - v.startS) / v.epochS) + 1);
}

/** When epoch `e` begins, in µs since 1970. */
export function epochStartUs(v: { startS: number; epochS: number }, e: number): number {
  return (v.startS + (e - 1) * v.epochS) * 1e6;
}

/** How many keys a KeyDeriver keeps: 32 MiB, thirty years of 15-minute epochs. */
const KEEP_KEYS = 1 << 20;

/**
 * Derives sealing keys from the verification key. It keeps every key it derived (up to
 * KEEP_KEYS): `verify` walks each stream's epochs upwards and then starts the next stream from
 * its first epoch again, which without them cost streams × epochs HMACs (100 streams over
 * 10,000 epochs: 15 s). Past KEEP_KEYS it remembers the last key only.
 */
export class KeyDeriver {
  readonly keyId: string;
  readonly startS: number;
  readonly epochS: number;
  private readonly k0: Buffer;
  private epoch = 0;
  private key: Buffer;
  /** chain[e] is the key of epoch e (chain[0] = k0), for e < KEEP_KEYS. */
  private readonly chain: Buffer[];

  constructor(v: VerificationKey) {
    this.k0 = v.k0;
    this.key = v.k0;
    this.chain = [v.k0];
    this.startS = v.startS;
    this.epochS = v.epochS;
    this.keyId = keyIdOf(v.k0);
  }

  /** k(epoch); cheap when epochs are asked in increasing order. */
  at(epoch: number): Buffer {
    const known = this.chain[epoch];
    if (known) return known;
    if (epoch < this.epoch || this.chain.length - 1 > this.epoch) {
      // start from the newest kept key, which is below `epoch`
      this.epoch = this.chain.length - 1;
      this.key = this.chain[this.epoch]!;
    }
    while (this.epoch < epoch) {
      this.key = nextKey(this.key);
      this.epoch++;
      if (this.epoch === this.chain.length && this.epoch < KEEP_KEYS) this.chain.push(this.key);
    }
    return this.key;
  }
}

// ---- the printed verification key: LWK1-XXXXX-XXXXX-... (base32 of k0 and 4 checksum bytes)

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Buffer): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Buffer | null {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of text) {
    const v = B32.indexOf(ch);
    if (v === -1) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function checksum(body: Buffer): Buffer {
  return createHash("sha256").update("logward verification key").update(body).digest().subarray(0, 4);
}

/** k0, then the start (8 bytes) and the epoch length (4 bytes), big-endian seconds. */
function keyBody(v: VerificationKey): Buffer {
  const b = Buffer.alloc(44);
  v.k0.copy(b, 0);
  b.writeBigUInt64BE(BigInt(v.startS), 32);
  b.writeUInt32BE(v.epochS, 40);
  return b;
}

/** The verification key as printed: `LWK1-` and base32 in groups of five. */
export function formatVerificationKey(v: VerificationKey): string {
  const body = keyBody(v);
  const text = base32(Buffer.concat([body, checksum(body)]));
  return `LWK1-${text.match(/.{1,5}/g)!.join("-")}`;
}

/** The key from its printed form (case, dashes and spaces ignored); LW_SEAL_KEY if it is not one. */
export function parseVerificationKey(text: string): VerificationKey {
  const clean = text.toUpperCase().replace(/[\s-]/g, "");
  const bad = () =>
    new LogwardError(
      "LW_SEAL_KEY",
      "The verification key is not one 'logward seal init' printed (LWK1-… with a checksum); check it for a typo.",
    );
  if (!clean.startsWith("LWK1")) throw bad();
  const raw = unbase32(clean.slice(4));
  if (raw?.length !== 48) throw bad();
  const body = raw.subarray(0, 44);
  if (!checksum(body).equals(raw.subarray(44))) throw bad();
  const epochS = body.readUInt32BE(40);
  if (epochS < 1) throw bad();
  return { k0: Buffer.from(body.subarray(0, 32)), startS: Number(body.readBigUInt64BE(32)), epochS };
}

// ---- run/seal.key

export interface KeyFile extends EpochKey {
  startS: number;
  epochS: number;
}

/** A new verification key whose epochs last `epochS` from now, and its first sealing key. */
export function newKeys(
  epochS: number,
  nowMs = Date.now(),
): { verification: VerificationKey; first: KeyFile } {
  const k0 = randomBytes(32);
  const startS = Math.floor(nowMs / 1000);
  return {
    verification: { k0, startS, epochS },
    first: { epoch: 1, keyId: keyIdOf(k0), key: nextKey(k0), startS, epochS },
  };
}

/** Reads run/seal.key; null if the store has none (it does not seal). */
export async function readKeyFile(path: string): Promise<KeyFile | null> {
  let text: string;
  try {
    text = await readFileNoFollow(path, "utf8"); // a key planted as a link is refused
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    if (err instanceof LogwardError) throw err;
    throw ioError("read", path, err);
  }
  const m =
    /^logward-seal-key 1\nkey_id ([0-9a-f]{16})\nstart ([0-9]{1,15})\nepoch_length ([1-9][0-9]{0,9})\nepoch ([1-9][0-9]{0,15})\nkey ([0-9a-f]{64})\n$/.exec(
      text,
    );
  if (!m)
    throw new LogwardError(
      "LW_SEAL_KEY",
      `The sealing key file ${path} is damaged; run 'logward seal init --force' (recorded) to start a new key.`,
    );
  return {
    keyId: m[1]!,
    startS: Number(m[2]),
    epochS: Number(m[3]),
    epoch: Number(m[4]),
    key: Buffer.from(m[5]!, "hex"),
  };
}

/**
 * Replaces run/seal.key with `k` durably: a new file (0600) written and fsync'd, renamed over the
 * old one, the directory fsync'd. The old key's bytes are no longer in any file (a file system
 * may still hold the freed blocks: docs/SEALS.md says where to keep the store).
 */
export async function writeKeyFile(path: string, k: KeyFile): Promise<void> {
  const text =
    `${FILE_MAGIC}\nkey_id ${k.keyId}\nstart ${k.startS}\nepoch_length ${k.epochS}\n` +
    `epoch ${k.epoch}\nkey ${k.key.toString("hex")}\n`;
  await writeFileAtomic(path, text, 0o600);
}
