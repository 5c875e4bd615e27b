// ORIGIN[/STREAM] on the command line: both names validated before any path is built from
// them; the collector's own origin `_logward` is accepted as a name to read.

import { checkName, checkStoredOrigin } from "../store/names.ts";
import type { ParsedLine } from "../store/record.ts";
import type { LineView } from "./records.ts";

export function parseTarget(target: string): { origin: string; stream: string | undefined } {
  const slash = target.indexOf("/");
  const originName = slash === -1 ? target : target.slice(0, slash);
  const origin = checkStoredOrigin(originName);
  const stream = slash === -1 ? undefined : checkName("stream", target.slice(slash + 1));
  return { origin, stream };
}

/**
 * A stored record as `--json` prints it (show, search): the payload in its escaped form; `extra`
 * (search's `syslog` object) comes after it, and only when asked for.
 */
export function recordJson(
  v: LineView,
  p: ParsedLine,
  payload: string,
  extra?: Record<string, unknown>,
): string {
  return JSON.stringify({
    origin: v.ref.origin,
    stream: v.ref.stream,
    time: p.time,
    seq: p.seq,
    kind: p.kind === "." ? "data" : p.kind.slice(1),
    ...(p.ref !== undefined ? { ref: p.ref } : {}),
    payload,
    ...extra,
  });
}
