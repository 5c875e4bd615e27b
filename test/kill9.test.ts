import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const WRITER = join(import.meta.dirname, "fixtures/writer.ts");

/** Runs the writer, kills it with SIGKILL after `ms`, and returns the highest acknowledged counter per stream. */
function runAndKill(root: string, ms: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, root, "32768"], { stdio: ["ignore", "pipe", "pipe"] });
    const acked = new Map<string, number>();
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      let nl = out.indexOf("\n");
      while (nl !== -1) {
        const [word, stream, n] = out.slice(0, nl).split(" ");
        if (word === "ack") acked.set(stream!, Math.max(acked.get(stream!) ?? 0, Number(n)));
        if (word === "ready") setTimeout(() => child.kill("SIGKILL"), ms);
        out = out.slice(nl + 1);
        nl = out.indexOf("\n");
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`writer exited with ${code}: ${err}`));
      else resolve(acked);
    });
  });
}

test("kill -9 at random moments: every acknowledged record is kept, none twice, in order", async () => {
  const root = tempDir();
  const highest = new Map<string, number>();
  for (let round = 0; round < 8; round++) {
    const acked = await runAndKill(root, 40 + Math.floor(Math.random() * 260));
    for (const [s, n] of acked) highest.set(s, Math.max(highest.get(s) ?? 0, n));
  }
  assert.ok((highest.get("main") ?? 0) > 500, "the writer made progress between kills");
  for (const stream of ["main", "audit", "kern"]) {
    const recs = await readAll(root, "victim", stream);
    const counters = recs.map((r) => Number(r.ref));
    // exactly 1..N, once each, in order: nothing lost, nothing twice
    assert.deepEqual(
      counters,
      Array.from({ length: counters.length }, (_, i) => i + 1),
      stream,
    );
    assert.ok(counters.length >= (highest.get(stream) ?? 0), `${stream}: acknowledged records missing`);
    for (const r of recs) {
      const n = Number(r.ref);
      assert.ok(r.payload.toString("latin1").startsWith(`${stream} record ${n} `));
      assert.ok(r.payload.toString("latin1").endsWith("end"));
    }
    assert.deepEqual(
      recs.map((r) => r.seq),
      Array.from({ length: recs.length }, (_, i) => i + 1),
    );
  }
});
