// The contract of src/output/destination.ts, checked against any Destination implementation
// (one shared suite, in the style of hono's adapter tests): each output type's test file calls
// destinationSuite() with a way to make its destination against a live receiver and to read back
// what the receiver got. What it checks is what the runner relies on:
// - deliver() resolves only after the receiver has the batch (then `received` includes it);
// - calls made before earlier ones resolved are all delivered, and resolve in call order;
// - close() resolves, never rejects, and settles every pending deliver();
// - deliver() after close() rejects (the runner makes a new destination instead).

import assert from "node:assert/strict";
import { test } from "node:test";
import type { OutputConfig } from "../../src/config/types.ts";
import type {
  Destination,
  DestinationFactory,
  DestinationHost,
  OutRecord,
} from "../../src/output/destination.ts";
import { outRecord } from "./out-records.ts";

export interface SuiteTarget {
  /** The type's factory (its module's createDestination). */
  factory: DestinationFactory;
  /** A checked `[[output]]` for a receiver that is running now (started per test). */
  start(): Promise<{ config: OutputConfig; stateDir?: string }>;
  /** "ORIGIN/STREAM SEQ" of every record the receiver holds now (duplicates included). */
  received(): Promise<string[]>;
  /** Stops the receiver started by start(). */
  stop(): Promise<void>;
}

export function testHost(stateDir = "/nonexistent"): { host: DestinationHost; acks: string[]; stop(): void } {
  const controller = new AbortController();
  const acks: string[] = [];
  return {
    host: {
      store: "/nonexistent",
      stateDir,
      log: () => {},
      acknowledged: (o, s, seq) => acks.push(`${o}/${s} ${seq}`),
      signal: controller.signal,
    },
    acks,
    stop: () => controller.abort(),
  };
}

function records(stream: string, from: number, n: number): OutRecord[] {
  return Array.from({ length: n }, (_, i) =>
    outRecord("vm1", stream, from + i, Buffer.from(`record ${from + i} of ${stream} \u00e9 \x1b[31m`)),
  );
}

/** Registers the shared tests for one output type, named "<name>: ...". */
export function destinationSuite(name: string, target: SuiteTarget): void {
  const withDestination = async (body: (d: Destination) => Promise<void>) => {
    const { config, stateDir } = await target.start();
    const h = testHost(stateDir);
    const d = target.factory(config, h.host);
    try {
      await body(d);
    } finally {
      await d.close();
      h.stop();
      await target.stop();
    }
  };

  test(`${name}: deliver() resolves once the receiver has the batch`, () =>
    withDestination(async (d) => {
      await d.deliver(records("a", 1, 10));
      const got = await target.received();
      for (let i = 1; i <= 10; i++) assert.ok(got.includes(`vm1/a ${i}`), `vm1/a ${i} delivered`);
    }));

  test(`${name}: pipelined batches of two streams are all delivered, resolving in call order`, () =>
    withDestination(async (d) => {
      const order: number[] = [];
      const calls = [records("a", 1, 50), records("b", 1, 50), records("a", 51, 50)].map((b, i) =>
        d.deliver(b).then(() => {
          order.push(i);
        }),
      );
      await Promise.all(calls);
      assert.deepEqual(order, [0, 1, 2]);
      const got = new Set(await target.received());
      for (let i = 1; i <= 100; i++) assert.ok(got.has(`vm1/a ${i}`), `vm1/a ${i}`);
      for (let i = 1; i <= 50; i++) assert.ok(got.has(`vm1/b ${i}`), `vm1/b ${i}`);
    }));

  test(`${name}: close() settles pending deliveries, never rejects, and deliver() after it rejects`, async () => {
    const { config, stateDir } = await target.start();
    const h = testHost(stateDir);
    const d = target.factory(config, h.host);
    try {
      const pending = d.deliver(records("c", 1, 20)).then(
        () => "resolved",
        () => "rejected",
      );
      await d.close();
      assert.match(await pending, /resolved|rejected/);
      await assert.rejects(d.deliver(records("c", 21, 1)));
    } finally {
      h.stop();
      await target.stop();
    }
  });
}
