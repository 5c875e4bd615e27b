import { Writable } from "node:stream";
import { lineEmitter, Output } from "./src/query/emit.ts";
import { readRecords } from "./src/query/records.ts";

const root = "/tmp/logward-query-store";
const w = { since: "2026-01-11T00:01:00.000000Z", until: "2026-01-11T00:02:00.000000Z" };
const sink = new Writable({
  write(_c, _e, cb) {
    cb();
  },
});
const out = new Output(sink);
const { emit } = lineEmitter(out, "text", undefined, false);
const mode = process.argv[2];
const t = performance.now();
let n = 0;
let tf = 0;
for await (const v of readRecords(root, [{ origin: "web-01", stream: "main" }], w)) {
  if (!tf) tf = performance.now();
  n++;
  if (mode === "emit") emit(v);
}
await out.flush();
console.log(mode, n, "first", (tf - t).toFixed(2), "rest", (performance.now() - tf).toFixed(2));
