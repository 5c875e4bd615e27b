// Buffers given back at once (src/store/release.ts): a session frees each socket read once its
// framer has copied what it keeps, and the store frees a pending buffer it grew out of. What is
// stored must be exactly what was sent, and nothing is freed that something may still read: a
// view into a larger buffer, a pooled Buffer, memory WebAssembly owns, or the read of an intake
// that keeps views of it (journal).

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import type { SessionResult } from "../src/collector/intake.ts";
import { Session, type SessionOptions } from "../src/collector/session.ts";
import { releaseBuffer } from "../src/store/release.ts";
import { Store } from "../src/store/store.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

/** Whether a buffer's memory was given back (a SharedArrayBuffer never is). */
function detached(ab: ArrayBufferLike): boolean {
  return ab instanceof ArrayBuffer && ab.detached;
}

/** A buffer that owns its ArrayBuffer, as Node gives each socket read. */
function ownBuffer(text: string): Buffer {
  const b = Buffer.from(new ArrayBuffer(Buffer.byteLength(text, "latin1")));
  b.write(text, "latin1");
  assert.equal(b.byteLength, b.buffer.byteLength);
  return b;
}

describe("releaseBuffer", () => {
  test("frees a buffer that is the whole of its ArrayBuffer", () => {
    const b = ownBuffer("x".repeat(65536));
    const ab = b.buffer;
    releaseBuffer(b);
    assert.equal(detached(ab), true);
    assert.equal(b.length, 0);
    releaseBuffer(b); // twice: nothing happens
  });

  test("leaves views, pooled buffers, empty buffers and WebAssembly memory alone", () => {
    const whole = ownBuffer("abcdefgh".repeat(1024));
    const view = whole.subarray(8);
    releaseBuffer(view);
    assert.equal(detached(whole.buffer), false);
    assert.equal(view.toString("latin1", 0, 8), "abcdefgh");
    const head = whole.subarray(0, 8); // offset 0 but not the whole
    releaseBuffer(head);
    assert.equal(detached(whole.buffer), false);

    const pooled = Buffer.from("small"); // a slice of Node's shared pool
    releaseBuffer(pooled);
    assert.equal(pooled.toString(), "small");
    assert.equal(detached(pooled.buffer), false);

    releaseBuffer(Buffer.alloc(0));

    const memory = new WebAssembly.Memory({ initial: 1 });
    const wasm = Buffer.from(memory.buffer);
    wasm[0] = 42;
    releaseBuffer(wasm); // not detachable: no throw, still readable
    assert.equal(wasm[0], 42);
    assert.equal(memory.buffer.byteLength, 65536);
  });
});

/** A socket as a Session uses it: events in, pause/resume, nothing written. */
function fakeSocket(): Socket {
  const e = new EventEmitter() as EventEmitter & Record<string, unknown>;
  e.pause = () => e;
  e.resume = () => e;
  return e as unknown as Socket;
}

async function runSession(
  root: string,
  format: SessionOptions["format"],
  chunks: Buffer[],
): Promise<SessionResult> {
  const store = await Store.open(root, { compress: false });
  const writer = await store.stream("vm", format);
  const socket = fakeSocket();
  const ended = new Promise<SessionResult>((resolve) => {
    const session = new Session(
      socket,
      writer,
      {
        origin: "vm",
        stream: format,
        format,
        transport: "qrexec-exec",
        maxRecordBytes: 64 * 1024,
        resumeRef: null,
        reply: () => {},
      },
      (_s, r) => resolve(r),
    );
    session.start(Buffer.alloc(0), false);
  });
  for (const c of chunks) socket.emit("data", c);
  socket.emit("end");
  const result = await ended;
  await store.close();
  return result;
}

async function payloads(root: string, stream: string): Promise<string[]> {
  return (await readAll(root, "vm", stream))
    .filter((r) => r.kind === ".")
    .map((r) => r.payload.toString("latin1"));
}

describe("a session frees each read once framed", () => {
  // lines that span reads, an escape, a line with no LF at the end
  const text = `first line\nsec${"o".repeat(5000)}nd\n\tthird \x1b[31m\nunterminated`;
  const cut = (s: string, at: number[]) =>
    at.map((a, i) => s.slice(i === 0 ? 0 : at[i - 1], a)).concat(s.slice(at.at(-1)));

  for (const format of ["lines", "octets", "syslog"] as const) {
    test(`${format}: every read is freed and every record is stored whole`, async () => {
      const root = tempDir();
      const sent =
        format === "octets"
          ? ["one", `tw${"o".repeat(5000)}`, "three \x1b"].map((m) => `${m.length} ${m}`).join("")
          : text;
      const chunks = cut(sent, [4, 20, 3000, 5020]).map(ownBuffer);
      const buffers = chunks.map((c) => c.buffer);
      await runSession(root, format, chunks);
      assert.deepEqual(
        buffers.map(detached),
        chunks.map(() => true),
      );
      const want =
        format === "octets"
          ? ["one", `tw${"o".repeat(5000)}`, "three \x1b"]
          : ["first line", `sec${"o".repeat(5000)}nd`, "\tthird \x1b[31m", "unterminated"];
      assert.deepEqual(await payloads(root, format), want);
    });
  }

  test("journal: the intake may keep views of a read, so its reads are left to the collector", async () => {
    const root = tempDir();
    const entry = "__CURSOR=s=1;i=1\n__REALTIME_TIMESTAMP=1700000000000000\nMESSAGE=hello\n\n";
    const chunks = [entry.slice(0, 30), entry.slice(30)].map(ownBuffer);
    await runSession(root, "journal", chunks);
    assert.deepEqual(
      chunks.map((c) => detached(c.buffer)),
      [false, false],
    );
    assert.equal(chunks[1]!.toString(), entry.slice(30));
  });
});
