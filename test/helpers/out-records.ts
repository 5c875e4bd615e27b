// Output tests that drive one Destination directly (src/output/destination.ts): records made
// the way the store holds them, and `deliverAll`, which keeps the runner's side of the contract
// in a few lines: a cursor that moves only after deliver() resolved, and on a rejection close,
// count the failure, wait, make a new destination and send everything after the cursor again.

import type { OutputConfig } from "../../src/config/types.ts";
import type { DestinationFactory, DestinationHost, OutRecord } from "../../src/output/destination.ts";
import { escapePayload } from "../../src/store/escape.ts";
import { formatTime, parseTime } from "../../src/store/record.ts";

/** A stored record of `raw` sender bytes: the payload escaped, the line as the store writes it. */
export function outRecord(
  origin: string,
  stream: string,
  seq: number,
  raw: Buffer,
  time = formatTime(Date.now() * 1000),
  kind = ".",
): OutRecord {
  const payload = escapePayload(raw);
  const line = Buffer.concat([Buffer.from(`${time} ${seq} ${kind} `, "latin1"), payload]);
  return { origin, stream, seq, time, timeUs: parseTime(time), kind, ref: undefined, line, payload };
}

export interface DeliverAllOptions {
  batch: number;
  /** Lines the destination logs. */
  log?: (message: string) => void;
  /** Called after each batch is acknowledged, with how many records are acknowledged in all. */
  onDelivered?: (count: number) => Promise<void> | void;
  /** The wait after a failed destination before the next one (the runner's backoff). */
  retryMs?: number;
  /** Gives up after this long. */
  timeoutMs?: number;
}

/** Delivers `records` in order, at least once each, as the runner would. */
export async function deliverAll(
  factory: DestinationFactory,
  config: OutputConfig,
  records: readonly OutRecord[],
  opts: DeliverAllOptions,
): Promise<{ failures: number; errors: string[] }> {
  const controller = new AbortController();
  const host: DestinationHost = {
    store: "/nonexistent",
    stateDir: "/nonexistent",
    log: (m) => opts.log?.(m),
    acknowledged: () => {},
    signal: controller.signal,
  };
  const end = Date.now() + (opts.timeoutMs ?? 90_000);
  let cursor = 0;
  const errors: string[] = [];
  try {
    while (cursor < records.length) {
      if (Date.now() > end) throw new Error(`deliverAll: gave up at ${cursor}; ${errors.join("; ")}`);
      const dest = factory(config, host);
      try {
        while (cursor < records.length) {
          const batch = records.slice(cursor, cursor + opts.batch);
          await dest.deliver(batch);
          cursor += batch.length;
          await opts.onDelivered?.(cursor);
        }
        await dest.close();
      } catch (err) {
        errors.push((err as Error).message);
        await dest.close();
        await new Promise((r) => setTimeout(r, opts.retryMs ?? 200));
      }
    }
  } finally {
    controller.abort();
  }
  return { failures: errors.length, errors };
}
