// A search's scan worker (scan-pool.ts starts it): reads the streams it is given, decompressing
// their frames on this thread, and finds a plain string in them with search.ts's fixedHits, so
// that decompressing and scanning use every core instead of the main thread's one. Sends each
// stream's hit lines back in batches (at most IN_FLIGHT bytes a stream not yet taken by the
// main thread), or only their number, then the objects the stream announces. Its streams are
// read side by side, never one after the other: the main thread merges an origin's streams by
// time, so a stream that waits for its hits to be taken must not hold up another.

import { parentPort } from "node:worker_threads";
import { LogwardError } from "../errors.ts";
import { collectDamage } from "../store/damage.ts";
import { decompressInline } from "../store/read.ts";
import type { ObjectRow } from "./objects.ts";
import type { ScanJob, ScanReply, ScanRequest } from "./scan-pool.ts";
import { fixedHits } from "./search.ts";

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
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (batch.length === 0) return;
    const lines = Buffer.concat(batch, batchBytes);
    state.inFlight += lines.length;
    send({ id: job.id, type: "hits", lines });
    batch = [];
    batchBytes = 0;
  };
  // damaged ranges go back to the main thread, which reports them where its reader would have
  // (stderr, or the web UI's collectDamage)
  const { value: failure, damaged } = await collectDamage(async () => {
    try {
      const needle = Buffer.from(job.needle);
      for await (const h of fixedHits(job.root, job.ref, job.w, needle, null, objects)) {
        count++;
        if (job.count) continue;
        batch.push(h.v.block);
        batchBytes += h.v.block.length;
        if (batchBytes >= BATCH_BYTES) flush();
        else timer ??= setTimeout(flush, FLUSH_MS);
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
