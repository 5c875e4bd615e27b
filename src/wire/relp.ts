// RELP, rsyslog's Reliable Event Logging Protocol (omrelp → logward): the frame codec and
// nothing more (when to answer is the listener's business: a `syslog` frame is answered only
// once its record is durable).
//
// A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF` (rsyslog/librelp doc/relp.md "RELP
// FRAME"): TXNR 1 to 9 digits (0 is for hints such as `serverclose`), COMMAND 1 to 32 letters,
// DATALEN 1 to 9 digits, and when DATALEN is 0 no SP and no DATA, the LF follows at once. The
// parser reads it the way librelp's relpFrameProcessOctetRcvd() does (src/relpframe.c), one
// state per field, with its limits, but refuses where librelp may truncate or accept: a
// DATALEN over `maxData` is a FramingError as soon as its SP is read, before any data is held.
// Every other break of the grammar (a non-digit in a number, a tenth digit, a command byte that
// is no letter, a missing LF after the data, the stream ending inside a frame) is a
// FramingError too: RELP's own rule is that the peer that sees a framing error closes the
// connection, and the client resends what was not answered.
//
// Frames whose data lies in one chunk are handed over as a view of it; only a frame that spans
// chunks is copied (into a buffer of at most `maxData` bytes).
//
// Replies: `rsp` frames carry `200 OK` or `500 <text>`, and the answer to `open` carries the
// server's offers after `200 OK` + LF, one `name=value,value` per line, as librelp's
// relpOffersToString() writes them (src/copen.c, src/offers.c): relp_version, relp_software,
// commands.

import { Carry } from "./carry.ts";
import { FramingError } from "./framer.ts";

const LF = 0x0a;
const SP = 0x20;

/** The largest TXNR and DATALEN: nine digits (librelp NUMBER = 1*9DIGIT). */
export const RELP_MAX_NUMBER = 999_999_999;
const MAX_DIGITS = 9;
const MAX_COMMAND = 32;

export interface RelpFrameSink {
  /** One frame; `data` is valid only during the call. */
  frame(txnr: number, command: string, data: Buffer): void;
}

// parser states
const IN_TXNR = 0;
const IN_COMMAND = 1;
const IN_DATALEN = 2;
const IN_DATA = 3;
const AT_TRAILER = 4;

// the commands of RELP version 1 as constants, so that a frame makes no string for them
const KNOWN_COMMANDS = ["syslog", "rsp", "open", "close", "serverclose", "starttls"];

function hex(c: number): string {
  return `0x${c.toString(16).padStart(2, "0")}`;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export class RelpParser {
  private readonly maxData: number;
  private readonly sink: RelpFrameSink;
  private readonly carry: Carry;
  private readonly command = Buffer.alloc(MAX_COMMAND);
  private state = IN_TXNR;
  private digits = 0;
  private txnr = 0;
  private commandLength = 0;
  private dataLength = 0;
  private remaining = 0;
  /** The frame's data lies in the current chunk at [dataStart, dataStart + dataLength). */
  private dataStart = -1;

  constructor(maxData: number, sink: RelpFrameSink) {
    this.maxData = Math.min(maxData, RELP_MAX_NUMBER);
    this.sink = sink;
    this.carry = new Carry(Math.max(this.maxData, 1));
  }

  /** Bytes held for a frame that spans chunks (at most `maxData`). */
  get buffered(): number {
    return this.carry.length;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const c = chunk[i]!;
      switch (this.state) {
        case IN_TXNR:
          if (c >= 0x30 && c <= 0x39) {
            if (++this.digits > MAX_DIGITS)
              throw new FramingError("bad RELP frame: TXNR has more than 9 digits");
            this.txnr = this.txnr * 10 + (c - 0x30);
          } else if (c === SP && this.digits > 0) {
            this.state = IN_COMMAND;
            this.digits = 0;
          } else {
            throw new FramingError(`bad RELP frame: byte ${hex(c)} where a TXNR digit was expected`);
          }
          i++;
          break;
        case IN_COMMAND:
          if (isLetter(c)) {
            if (this.commandLength === MAX_COMMAND)
              throw new FramingError("bad RELP frame: a command longer than 32 letters");
            this.command[this.commandLength++] = c;
          } else if (c === SP && this.commandLength > 0) {
            this.state = IN_DATALEN;
          } else {
            throw new FramingError(`bad RELP frame: byte ${hex(c)} in the command`);
          }
          i++;
          break;
        case IN_DATALEN:
          if (c >= 0x30 && c <= 0x39) {
            if (++this.digits > MAX_DIGITS)
              throw new FramingError("bad RELP frame: DATALEN has more than 9 digits");
            this.dataLength = this.dataLength * 10 + (c - 0x30);
            i++;
          } else if (this.digits === 0) {
            throw new FramingError(`bad RELP frame: byte ${hex(c)} where a DATALEN digit was expected`);
          } else if (this.dataLength === 0) {
            this.state = AT_TRAILER; // no SP and no data: this byte must be the LF
          } else if (c === SP) {
            if (this.dataLength > this.maxData)
              throw new FramingError(
                `RELP frame too long: ${this.dataLength} bytes of data, at most ${this.maxData}`,
              );
            this.remaining = this.dataLength;
            this.state = IN_DATA;
            i++;
          } else {
            throw new FramingError(`bad RELP frame: byte ${hex(c)} after DATALEN`);
          }
          break;
        case IN_DATA: {
          const avail = Math.min(n - i, this.remaining);
          // the fast path: all the data and its LF in this chunk, handed over as a view
          if (this.remaining === this.dataLength && i + avail < n && avail === this.dataLength) {
            this.dataStart = i;
          } else {
            this.carry.add(chunk, i, i + avail);
          }
          this.remaining -= avail;
          i += avail;
          if (this.remaining === 0) this.state = AT_TRAILER;
          break;
        }
        default: // AT_TRAILER
          if (c !== LF)
            throw new FramingError(`bad RELP frame: byte ${hex(c)} where the trailing LF was expected`);
          i++;
          this.emit(chunk);
      }
    }
  }

  /** The channel ended: it must end between frames. */
  end(): void {
    const inside = this.state !== IN_TXNR || this.digits > 0;
    this.carry.clear();
    if (inside) throw new FramingError("truncated RELP frame: the stream ended inside a frame");
  }

  private emit(chunk: Buffer): void {
    const data =
      this.dataStart >= 0
        ? chunk.subarray(this.dataStart, this.dataStart + this.dataLength)
        : this.dataLength === 0
          ? chunk.subarray(0, 0)
          : this.carry.view();
    const txnr = this.txnr;
    const command = this.commandName();
    this.state = IN_TXNR;
    this.digits = 0;
    this.txnr = 0;
    this.commandLength = 0;
    this.dataLength = 0;
    this.dataStart = -1;
    try {
      this.sink.frame(txnr, command, data);
    } finally {
      this.carry.clear();
    }
  }

  private commandName(): string {
    const len = this.commandLength;
    for (const known of KNOWN_COMMANDS) {
      if (known.length !== len) continue;
      let same = true;
      for (let k = 0; k < len; k++) {
        if (this.command[k] !== known.charCodeAt(k)) {
          same = false;
          break;
        }
      }
      if (same) return known;
    }
    return this.command.toString("latin1", 0, len);
  }
}

/** One frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. */
export function encodeRelpFrame(txnr: number, command: string, data: Buffer | string = ""): Buffer {
  if (!Number.isInteger(txnr) || txnr < 0 || txnr > RELP_MAX_NUMBER)
    throw new RangeError(`bad RELP TXNR ${txnr}`);
  if (!/^[A-Za-z]{1,32}$/.test(command)) throw new RangeError(`bad RELP command ${JSON.stringify(command)}`);
  const body = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  if (body.length > RELP_MAX_NUMBER) throw new RangeError("RELP data over 999999999 bytes");
  const head = body.length > 0 ? `${txnr} ${command} ${body.length} ` : `${txnr} ${command} 0`;
  return Buffer.concat([Buffer.from(head, "latin1"), body, Buffer.from([LF])]);
}

/**
 * The answer to a command: `200 OK`, or `500 <text>` (text without LF). `extra` follows after
 * an LF (RSP-HEADER [LF CMDDATA]).
 */
export function encodeRelpRsp(txnr: number, ok: boolean, text = ok ? "OK" : "error", extra?: string): Buffer {
  if (text.includes("\n")) throw new RangeError("a RELP response text has no LF");
  const head = `${ok ? 200 : 500} ${text}`;
  return encodeRelpFrame(txnr, "rsp", extra === undefined ? head : `${head}\n${extra}`);
}

export interface RelpOffers {
  /** The protocol version to answer (librelp speaks 0, the only one in use). */
  relpVersion: number;
  /** `name,version` of the software, e.g. "logward,0.1.0". */
  software?: string;
  /** Commands beyond the protocol's own, e.g. ["syslog"]. */
  commands: string[];
}

/** The `rsp` to an `open`: `200 OK` then the offers, one per line, in librelp's order. */
export function encodeRelpOpenReply(txnr: number, offers: RelpOffers): Buffer {
  const lines = [`relp_version=${offers.relpVersion}`];
  if (offers.software !== undefined) lines.push(`relp_software=${offers.software}`);
  lines.push(`commands=${offers.commands.join(",")}`);
  for (const line of lines) if (line.includes("\n")) throw new RangeError("a RELP offer has no LF");
  return encodeRelpRsp(txnr, true, "OK", lines.join("\n"));
}

/** The hint a server sends before it closes a session: `0 serverclose 0` LF. */
export function encodeRelpServerClose(): Buffer {
  return encodeRelpFrame(0, "serverclose");
}

/**
 * The offers in an `open` frame's data (`name=value,value` lines; an empty line is skipped):
 * name → values. At most 64 offers are read, the rest ignored, so a hostile open stays cheap.
 */
export function parseRelpOffers(data: Buffer): Map<string, string[]> {
  const offers = new Map<string, string[]>();
  let s = 0;
  while (s < data.length && offers.size < 64) {
    let e = data.indexOf(LF, s);
    if (e === -1) e = data.length;
    if (e > s) {
      const line = data.toString("utf8", s, e);
      const eq = line.indexOf("=");
      const name = eq === -1 ? line : line.slice(0, eq);
      const values = eq === -1 || eq === line.length - 1 ? [] : line.slice(eq + 1).split(",");
      offers.set(name, values);
    }
    s = e + 1;
  }
  return offers;
}
