// The outputs' worker thread (outputs.ts starts it): runs the OutputSet, answers each request
// once it is done, and sends its log lines to the collector's thread.

import { parentPort, workerData } from "node:worker_threads";
import { OutputSet } from "./output-set.ts";
import type { FromOutputs, OutputsWorkerData, ToOutputs } from "./outputs.ts";

const data = workerData as OutputsWorkerData;
const port = parentPort!;
const say = (m: FromOutputs) => port.postMessage(m);
const set = new OutputSet(data.root, {
  log: (line) => say({ log: line }),
  raise: (origin, message) => say({ alert: { origin, message } }),
  ...(data.backoffMs !== undefined ? { backoffMs: data.backoffMs } : {}),
});

port.on("message", (m: ToOutputs) => {
  if ("durable" in m) return set.noteDurable(m.durable);
  const done = () => say({ done: m.id });
  if ("apply" in m) void set.apply(m.apply).then(done, done);
  else
    void set.close().then(
      () => {
        done();
        port.close();
      },
      () => {
        done();
        port.close();
      },
    );
});
