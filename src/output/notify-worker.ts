// A notify rule's regular expression, run in a worker thread (notify.ts starts one per rule):
// the expression is the administrator's own, but a record is anyone's, and a pattern that
// backtracks badly on a hostile line would stop the collector's event loop for as long as it
// runs. Here it stops only this thread, which notify.ts terminates when a batch's time budget
// is spent (as the web UI's search does: ui/search-worker.ts).
//
// workerData: { pattern }. Each message: { id, payloads: string[] }; each answer:
// { id, matches: number[] } (the indices of the payloads the expression matches).

import { parentPort, workerData } from "node:worker_threads";

export interface NotifyJob {
  id: number;
  payloads: string[];
}

export interface NotifyAnswer {
  id: number;
  matches: number[];
}

const re = new RegExp((workerData as { pattern: string }).pattern, "u");

parentPort!.on("message", (job: NotifyJob) => {
  const matches: number[] = [];
  job.payloads.forEach((p, i) => {
    if (re.test(p)) matches.push(i);
  });
  parentPort!.postMessage({ id: job.id, matches } satisfies NotifyAnswer);
});
