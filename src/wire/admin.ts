// The admin protocol on the collector's relay socket (`logward rm` while a collector runs; the
// server side is collector/admin.ts). docs/PROTOCOL.md, "Admin requests on the relay socket".
//
//   rm -> serve:  "logward-admin 1 rm <origin> <stream|*> <before µs|-> <by>\n"
//   serve -> rm:  one relay 'E' frame, JSON {"ok", "records", "bytes", "objects", "message"};
//                 on failure {"ok": false, "code": "LW_…", "message": the sentence}, then the
//                 socket closes.

import { ERRORS, type ErrorCode, LogwardError } from "../errors.ts";
import { FramingError, parseJsonPayload } from "./framer.ts";

export const ADMIN_MAGIC = "logward-admin";

export interface RmRequest {
  origin: string;
  /** null: every stream of the origin. */
  stream: string | null;
  /** µs since the epoch; null: everything. */
  beforeUs: number | null;
  /** Who asked (as the requesting process says: user name and uid). */
  by: string;
}

export interface RmResult {
  ok: boolean;
  records: number;
  bytes: number;
  /** Objects deleted with their `!blob` records (absent in an answer from an older collector). */
  objects?: number;
  /** On failure, the error's code (absent from an older collector: its message starts with it). */
  code?: ErrorCode;
  message: string;
}

/** "logward-admin 1 rm <origin> <stream|*> <before µs|-> <by>" */
export function encodeRmRequest(r: RmRequest): string {
  return `${ADMIN_MAGIC} 1 rm ${r.origin} ${r.stream ?? "*"} ${r.beforeUs ?? "-"} ${r.by}\n`;
}

export function parseRmRequest(line: string): RmRequest {
  const p = line.split(" ");
  if (p.length !== 7 || p[0] !== ADMIN_MAGIC || p[1] !== "1" || p[2] !== "rm") {
    throw new LogwardError("LW_USAGE", "not a logward-admin rm request");
  }
  const before = p[5] === "-" ? null : Number(p[5]);
  if (before !== null && !Number.isSafeInteger(before))
    throw new LogwardError("LW_USAGE", "bad --before time");
  return { origin: p[3]!, stream: p[4] === "*" ? null : p[4]!, beforeUs: before, by: p[6]! };
}

/** An answer as the collector sent it, checked: anything but a well-formed answer is a FramingError. */
export function decodeRmResult(payload: Uint8Array): RmResult {
  const v = parseJsonPayload(payload, "the admin answer");
  const r = v as Partial<RmResult> | null;
  if (
    typeof r !== "object" ||
    r === null ||
    typeof r.ok !== "boolean" ||
    !Number.isSafeInteger(r.records) ||
    !Number.isSafeInteger(r.bytes) ||
    typeof r.message !== "string" ||
    (r.objects !== undefined && !Number.isSafeInteger(r.objects)) ||
    (r.code !== undefined && typeof r.code !== "string")
  )
    throw new FramingError("the admin answer is not {ok, records, bytes, message}");
  return {
    ok: r.ok,
    records: r.records!,
    bytes: r.bytes!,
    ...(r.objects === undefined ? {} : { objects: r.objects }),
    ...(r.code === undefined ? {} : { code: r.code }),
    message: r.message,
  };
}

/** The answer to a request that failed with `err`: its code and its sentence, apart. */
export function adminFailure(err: unknown): RmResult {
  const code = err instanceof LogwardError ? err.code : "LW_INTERNAL";
  return { ok: false, records: 0, bytes: 0, code, message: String((err as Error | undefined)?.message) };
}

/**
 * The error a failed answer carries. An older collector sent no `code` and put it in front of
 * the message ("LW_BUSY work/app is receiving…"); that form is read too. An unknown code is
 * LW_INTERNAL.
 */
export function adminError(r: RmResult): LogwardError {
  let code: string | undefined = r.code;
  let message = r.message;
  if (code === undefined) {
    const [first, ...rest] = r.message.split(" ");
    code = first;
    message = rest.join(" ");
  }
  return new LogwardError(code && Object.hasOwn(ERRORS, code) ? (code as ErrorCode) : "LW_INTERNAL", message);
}
