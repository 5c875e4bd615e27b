// The checks of one `!seal` line on its own and against the seal before it, shared by `verify`
// (a store, verify.ts) and `verify-export --key` (an archive, verify-lines.ts), so that the two
// cannot accept different seals: the key it names, its epoch not going back, its MAC under the
// sealing key of its epoch (constant-time), its time not before that epoch began, not made long
// after its first record, and the records it names ending right before it.

import { formatTime, parseTime } from "../store/record.ts";
import { macMatches, type SealLine } from "../store/seal-format.ts";
import { epochAt, epochStartUs, type KeyDeriver } from "./key.ts";

export type SealWhy = "other key" | "reordered" | "forged" | "sealed late";

/**
 * How long after its first record a seal may be made: records wait for the end of their epoch
 * at most (the collector seals every stream then) and the sealer a moment more: three epochs and
 * two seconds. Later means the collector was down that long, or someone holding a later key
 * removed the seals of earlier epochs and sealed again.
 */
export function lateUs(keys: KeyDeriver): number {
  return (3 * keys.epochS + 2) * 1e6;
}

/**
 * What is wrong with `seal` in the stream ORIGIN/STREAM, or null. `prev` is the seal before it
 * in the stream (null for the first one read), `firstTime` the receive time of the first record
 * it covers (null if none), `allowLate` accepts late seals (`--allow-late`).
 */
export function sealProblem(
  keys: KeyDeriver,
  origin: string,
  stream: string,
  seal: SealLine,
  prev: SealLine | null,
  firstTime: string | null,
  allowLate: boolean,
): { why: SealWhy; detail: string } | null {
  const where = `the seal at seq ${seal.seq}`;
  if (seal.key !== keys.keyId)
    return {
      why: "other key",
      detail: `${where} was made with another verification key (id ${seal.key}, yours is ${keys.keyId}): the store was sealed anew, or the seal is forged`,
    };
  if (prev && seal.epoch < prev.epoch)
    return {
      why: "reordered",
      detail: `${where} has epoch ${seal.epoch}, before the epoch ${prev.epoch} of the seal before it`,
    };
  // the time checks come before the MAC: deriving epoch N's key costs N HMACs, and a forged
  // seal may name any epoch up to 16 digits (found by fuzzing: verify never finished)
  if (seal.epoch > epochAt(keys, Date.now() * 1000) + 1)
    return {
      why: "forged",
      detail: `${where} names epoch ${seal.epoch}, which has not begun yet`,
    };
  const sealUs = parseTime(seal.time);
  const epochStart = epochStartUs(keys, seal.epoch);
  if (!(sealUs >= epochStart))
    return {
      why: "forged",
      detail: `${where} bears the time ${seal.time}, before its epoch ${seal.epoch} began (${formatTime(epochStart)}): only a key of a later epoch made it`,
    };
  if (!macMatches(keys.at(seal.epoch), origin, stream, seal))
    return {
      why: "forged",
      detail: `${where} is not authentic: its MAC is not that of epoch ${seal.epoch}'s key (made with a later key, or changed)`,
    };
  if (!allowLate && firstTime !== null && sealUs - parseTime(firstTime) > lateUs(keys))
    return {
      why: "sealed late",
      detail: `${where} was made at ${seal.time}, long after its first record (${firstTime}): the collector was down that long, or someone who held a later sealing key removed earlier seals and sealed again (check _logward/events; --allow-late accepts it)`,
    };
  if (seal.last !== seal.seq - 1 || seal.first > seal.seq)
    return {
      why: "forged",
      detail: `${where} names records ${seal.first} to ${seal.last}, which do not end right before it`,
    };
  return null;
}
