// The bytes the `syslog` output sends for one stored record: an RFC 5424 message, framed by
// octet counting as RFC 5425 (TLS) and RFC 6587 require:
//
//   MSG-LEN SP <PRI>1 SP TIMESTAMP SP HOSTNAME SP APP-NAME SP - SP MSGID SP SD SP MSG
//
//   PRI        the sender's own <PRI> when its payload starts with one (0..191), so a SIEM's
//              facility and severity rules still apply; else 13 (user.notice) for a sender's
//              record and 46 (syslog.info) for a record the collector wrote (`!open`, ...)
//   TIMESTAMP  the collector's receive time as stored (RFC 3339, UTC, microseconds): a sender's
//              own clock is data, so a timestamp inside the payload stays in MSG
//   HOSTNAME   the record's origin (the channel named it; names are [A-Za-z0-9_.-], <= 64)
//   APP-NAME   the stream (cut to RFC 5424's 48 characters; the SD has it whole)
//   MSGID      `-` for a sender's record, the kind's name for the collector's (`open`, `gap`)
//   SD         [logward@32473 stream="…" seq="…"]: where the record is in the store, so a
//              receiver can find duplicates (the same HOSTNAME, stream and seq) after a replay.
//              32473 is the example enterprise number of RFC 5612.
//   MSG        the sender's raw bytes: the stored payload unescaped (store/escape.ts), so what
//              arrives is exactly what the sender sent, as `show --raw` prints it. RFC 5424
//              allows any octets in MSG (MSG-ANY); logward adds no BOM, and does not re-escape:
//              the receiver's own rules (rsyslog's #012 for control bytes) apply to its files.
//
// Pure functions of the record; syslog.ts owns the connection.

import { unescapePayload } from "../store/escape.ts";

/** The fields of a stored record this module needs. */
export interface SyslogRecordView {
  origin: string;
  stream: string;
  seq: number;
  /** The 27-byte receive time. */
  time: string;
  /** "." or "!name". */
  kind: string;
  /** The payload escaped as stored. */
  payload: Buffer;
}

/** RFC 5424 caps APP-NAME at 48 printable characters. */
const APP_NAME_MAX = 48;
const PRI_USER_NOTICE = 13;
const PRI_SYSLOG_INFO = 46;
const PRI_MAX = 191;
/** RFC 5612's example private enterprise number, the SD-ID of logward's own parameters. */
export const SD_ID = "logward@32473";

/** The `<PRI>` a raw payload starts with (`<0>`..`<191>`, no leading zero), or -1. */
export function leadingPri(raw: Buffer): number {
  if (raw.length < 3 || raw[0] !== 0x3c) return -1;
  let v = 0;
  let i = 1;
  for (; i < raw.length && i <= 4; i++) {
    const c = raw[i]!;
    if (c === 0x3e) break;
    if (c < 0x30 || c > 0x39) return -1;
    if (i > 1 && raw[1] === 0x30) return -1; // "<01>" is not a PRI
    v = v * 10 + (c - 0x30);
  }
  if (i === 1 || raw[i] !== 0x3e || v > PRI_MAX) return -1;
  return v;
}

/** SD-PARAM value escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash. */
function sdValue(s: string): string {
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** The RFC 5424 message of one record, without framing. */
export function syslogMessage(rec: SyslogRecordView): Buffer {
  const raw = unescapePayload(rec.payload);
  const own = rec.kind !== ".";
  const pri = own ? PRI_SYSLOG_INFO : leadingPri(raw);
  const appName = rec.stream.slice(0, APP_NAME_MAX);
  const msgId = own ? rec.kind.slice(1) : "-";
  const sd = `[${SD_ID} stream="${sdValue(rec.stream)}" seq="${rec.seq}"]`;
  const head = `<${pri < 0 ? PRI_USER_NOTICE : pri}>1 ${rec.time} ${rec.origin} ${appName} - ${msgId} ${sd} `;
  return Buffer.concat([Buffer.from(head, "latin1"), raw]);
}

/** One record as RFC 5425 sends it: the message's length in octets, a space, the message. */
export function syslogFrame(rec: SyslogRecordView): Buffer {
  const msg = syslogMessage(rec);
  return Buffer.concat([Buffer.from(`${msg.length} `, "latin1"), msg]);
}
