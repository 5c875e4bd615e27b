// Reading the collector's alerts (`_logward/alerts`, written by src/policy/alerts.ts): each is a
// `!note` whose payload is key=value text (store/kv.ts; values with spaces are JSON strings).

import { unescapePayload } from "../store/escape.ts";
import { parseKeyValues } from "../store/kv.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { originStreams, type Window } from "../store/read.ts";
import { parseLine } from "../store/record.ts";
import { readRecords } from "./records.ts";

export interface StoredAlert {
  time: string;
  alert: string;
  origin: string | null;
  group: string | null;
  message: string;
}

export async function* readAlerts(root: string, w: Window): AsyncGenerator<StoredAlert> {
  const refs = (await originStreams(root, COLLECTOR_ORIGIN)).filter((r) => r.stream === "alerts");
  if (refs.length === 0) return;
  for await (const v of readRecords(root, refs, w)) {
    const p = parseLine(v.block, v.start, v.end);
    if (p?.kind !== "!note") continue;
    const kv = parseKeyValues(unescapePayload(v.block, p.payloadStart, p.payloadEnd).toString("utf8"));
    if (!kv.alert) continue;
    yield {
      time: p.time,
      alert: kv.alert,
      origin: kv.origin ?? null,
      group: kv.group ?? null,
      message: kv.message ?? "",
    };
  }
}
