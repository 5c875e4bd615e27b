// What a RELP session needs to know of its stream's past to store a resent message only once:
// the last records of each earlier RELP "chain" that was not closed cleanly, as digests.
//
// Why: omrelp keeps every frame it has no `rsp` for and resends them, in order, at the start
// of its next session (librelp src/relpsess.c relpSessTryReestablish(), with new txnrs). The
// collector answers a frame only once its record is fsync'd, but a record can be durable while
// its `rsp` never reached the sender (the collector killed between the fsync and the write, or
// the connection lost with the answer in flight). Those records are the last ones the old
// session stored, and the resend starts with exactly them: so the new session compares its
// first frames with the tail of the old session's records (relp-intake.ts).
//
// A chain is the records of one sender's RELP sessions: each record carries the resume
// reference `relp-<tag>` (8 hex digits), and a session that found its first frames were a
// resend continues its predecessor's tag, so a sender that reconnects twice before it gets an
// answer still finds every stored frame in one chain. A session that ends with the sender's
// `close` answered has nothing unanswered: its `!close` says `relp_close=yes relp_chain=<tag>`
// and the chain is no candidate. Records of other senders interleaved in the stream carry other
// tags, so several RELP connections may write one stream.

import { unescapePayload } from "../store/escape.ts";
import { readStreamLines, seekTimeForSeq, streamSegments } from "../store/read.ts";
import { LF, parseLine } from "../store/record.ts";
import type { Intake, IntakeHost } from "./intake.ts";
import { RELP_REF_PREFIX, type RelpChains, RelpIntake, relpDigest } from "./relp-intake.ts";

/**
 * How many of the stream's last records are read: a resend longer than what remains of its
 * chain there is not recognised (omrelp's window is 128 frames unless configured otherwise).
 */
export const RELP_TAIL_RECORDS = 4096;

/**
 * The intake of a RELP connection (a `[[listen]]` with protocol "relp") on a store at `root`:
 * it reads its stream's open chains once everything its writer holds is durable.
 */
export function relpIntakeFor(root: string, software = "logward"): (host: IntakeHost) => Intake {
  return (host) =>
    new RelpIntake(host, {
      software,
      recentChains: async () => {
        await host.whenDurable();
        return readRelpChains(root, host.origin, host.stream, RELP_TAIL_RECORDS);
      },
    });
}

const CLOSE_KIND = "!close";
const CHAIN_FIELD = /(?:^| )relp_chain=([0-9a-f]{8})(?: |$)/;
const CLEAN_FIELD = /(?:^| )relp_close=yes(?: |$)/;

/**
 * Reads the stream's last `limit` records as its files hold them now and returns the chains
 * still open there. An empty map when the stream has no RELP records there.
 */
export async function readRelpChains(
  root: string,
  origin: string,
  stream: string,
  limit: number,
): Promise<RelpChains> {
  const chains: RelpChains = new Map();
  const segs = await streamSegments(root, origin, stream);
  const lastSeq = segs.at(-1)?.lastSeq ?? 0;
  if (lastSeq < 1) return chains;
  const from = Math.max(1, lastSeq - limit + 1);
  const since = await seekTimeForSeq(root, { origin, stream }, segs, from);
  for await (const block of readStreamLines(root, origin, stream, { since })) {
    let s = 0;
    while (s < block.length) {
      let e = block.indexOf(LF, s);
      if (e === -1) e = block.length;
      const line = parseLine(block, s, e);
      s = e + 1;
      if (line === null || line.seq < from) continue;
      if (line.kind === "." && line.ref?.startsWith(RELP_REF_PREFIX)) {
        const tag = line.ref.slice(RELP_REF_PREFIX.length);
        let digests = chains.get(tag);
        if (!digests) {
          digests = [];
          chains.set(tag, digests);
        }
        digests.push(relpDigest(unescapePayload(block, line.payloadStart, line.payloadEnd)));
        if (digests.length > limit) digests.shift();
      } else if (line.kind === CLOSE_KIND) {
        const text = block.toString("latin1", line.payloadStart, line.payloadEnd);
        const tag = CHAIN_FIELD.exec(text)?.[1];
        if (tag !== undefined && CLEAN_FIELD.test(text)) chains.delete(tag);
      }
    }
  }
  return chains;
}
