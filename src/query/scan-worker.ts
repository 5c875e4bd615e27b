// A search's scan worker (scan-pool.ts starts it): reads the streams it is given, decompressing
// their frames on this thread, and finds a plain string in them as search.ts's fixedHits does, so
// that decompressing and scanning use every core instead of the main thread's one (the same
// reader and blockHits as fixedHits, with one copy of each hit line, into a batch). Sends each
// stream's hit lines back in batches (at most IN_FLIGHT bytes a stream not yet taken by the
// main thread), or only their number, then the objects the stream announces. Its streams are
// read side by side, never one after the other: the main thread merges an origin's streams by
// time, so a stream that waits for its hits to be taken must not hold up another.

import { parentPort } from "node:worker_threads";
import { LogwardError } from "../errors.ts";
import { collectDamage } from "../store/damage.ts";
import { decompressInline, readStreamLines } from "../store/read.ts";
import type { ObjectRow } from "./objects.ts";
import type { ScanJob, ScanReply, ScanRequest } from "./scan-pool.ts";
import { announcedInBlock, blockHits } from "./search.ts";

/** Hit bytes sent and not yet taken by the main thread, above which this worker waits. */
const IN_FLIGHT = 4 * 1024 * 1024;
/** A batch is sent once it holds this much, or FLUSH_MS after its first hit. */
const BATCH_BYTES = 256 * 1024;
const FLUSH_MS = 50;

const port = parentPort!;
decompressInline(true);

/** Per job: hit bytes not yet taken, and the wake-up of a job waiting for them to be. */
const jobs = new Map<number, { inFlight: number; wakeUp: (() => void) | null }>();

function send(m: ScanReply): void {
  port.postMessage(m);
}

async function run(job: ScanJob): Promise<void> {
  const objects: ObjectRow[] | null = job.objects ? [] : null;
  const state = { inFlight: 0, wakeUp: null as (() => void) | null };
  jobs.set(job.id, state);
  let count = 0;
  // hit lines are copied once, into the batch, whose memory is then handed to the main thread
  // (transferred, not copied): no object per hit in this thread
  let batch: Buffer | null = null;
  let batchBytes = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!batch || batchBytes === 0) return;
    const lines = batch.subarray(0, batchBytes);
    state.inFlight += batchBytes;
    port.postMessage({ id: job.id, type: "hits", lines } satisfies ScanReply, [batch.buffer as ArrayBuffer]);
    batch = null;
    batchBytes = 0;
  };
  const add = (block: Buffer, start: number, end: number) => {
    const len = end + 1 - start;
    if (batch && batchBytes + len > batch.length) flush();
    // a slow (unpooled) buffer of its own, so that it can be transferred
    batch ??= Buffer.allocUnsafeSlow(Math.max(BATCH_BYTES, len));
    block.copy(batch, batchBytes, start, end + 1);
    batchBytes += len;
  };
  // damaged ranges go back to the main thread, which reports them where its reader would have
  // (stderr, or the web UI's collectDamage)
  const { value: failure, damaged } = await collectDamage(async () => {
    try {
      const needle = Buffer.from(job.needle);
      const { ref, w } = job;
      for await (const block of readStreamLines(job.root, ref.origin, ref.stream, w)) {
        if (objects) announcedInBlock(ref, block, w, objects);
        blockHits(block, needle, null, (start, end) => {
          count++;
          if (!job.count) add(block, start, end);
        });
        if (batchBytes >= BATCH_BYTES) flush();
        else if (batchBytes > 0) timer ??= setTimeout(flush, FLUSH_MS);
        while (state.inFlight > IN_FLIGHT) await new Promise<void>((r) => (state.wakeUp = r));
      }
      flush();
      return null;
    } catch (err) {
      if (timer) clearTimeout(timer);
      return err;
    }
  });
  jobs.delete(job.id);
  if (failure === null) send({ id: job.id, type: "done", count, objects: objects ?? [], damaged });
  else {
    const code = failure instanceof LogwardError ? failure.code : null;
    send({
      id: job.id,
      type: "error",
      code,
      message: (failure as Error)?.message ?? String(failure),
      damaged,
    });
  }
}

port.on("message", (m: ScanRequest) => {
  if (m.type === "taken") {
    const state = jobs.get(m.id);
    if (!state) return;
    state.inFlight -= m.bytes;
    const w = state.wakeUp;
    state.wakeUp = null;
    w?.();
  } else void run(m);
});
