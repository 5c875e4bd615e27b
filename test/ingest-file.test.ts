// `logward ingest < file`: a regular file as standard input is read by its descriptor into two
// reused buffers (src/wire/collector-client.ts, relayFile), and a pipe or socket (qrexec's
// socketpair) into one (relayPipe), not through a stream. Every byte must still arrive once and
// in order, however the socket's partial writes fall, from the file's current offset, blob
// frames must be whole, and a refusal midway must still reach the sender as the refusal.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BIN } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { streamText } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Runs `logward ingest` with `file` as its stdin (opened with `flags`), from `skip` bytes into it. */
function ingestFile(
  store: string,
  format: string,
  file: string,
  env: NodeJS.ProcessEnv,
  skip = 0,
  flags = "r",
): Promise<{ code: number | null; stderr: string }> {
  const fd = openSync(file, flags);
  if (skip) readSync(fd, Buffer.alloc(skip), 0, skip, null); // moves the shared offset
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, "ingest", "--format", format, "--store", store], {
      stdio: [fd, "ignore", "pipe"],
      env: { PATH: process.env.PATH, ...env },
    });
    closeSync(fd);
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    proc.on("close", (code) => resolve({ code, stderr }));
  });
}

/** The payloads of a stream's records, in order (control records, "!", left out). */
function payloads(store: string, origin: string, stream: string): string[] {
  const out: string[] = [];
  for (const line of streamText(store, origin, stream).split("\n")) {
    const m = /^\S+ \d+ \. (.*)$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/**
 * 6 MiB of distinct lines: six reads into relayFile's two buffers, and many into relayPipe's
 * one, each read again only after the collector took it; a line now and then longer than a
 * socket buffer.
 */
function manyLines(): string[] {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 6 * 1024 * 1024; i++) {
    const line =
      i % 997 === 0 ? `line ${i} ${"x".repeat(300_000)}` : `line ${i} ${"abcdefghij".repeat(i % 13)}`;
    lines.push(line);
    size += line.length + 1;
  }
  return lines;
}

test("lines from a regular file: every line once and in order, from the file's offset on", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const lines = manyLines();
  const file = join(root, "input.log");
  writeFileSync(file, `${lines.join("\n")}\n`);
  const d = await serve(store, '[collector]\nmax_record = "512KiB"\n');
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "web-01", QREXEC_SERVICE_ARGUMENT: "main" };
    const r = await ingestFile(store, "lines", file, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const got = payloads(store, "web-01", "main");
    assert.equal(got.length, lines.length);
    for (let i = 0; i < lines.length; i++) assert.equal(got[i], lines[i], `line ${i}`);

    // stdin's offset is where the file is read from (`{ head -n 1; logward ingest; } < file`)
    const env2 = { QREXEC_REMOTE_DOMAIN: "web-01", QREXEC_SERVICE_ARGUMENT: "rest" };
    const skip = lines[0]!.length + 1 + lines[1]!.length + 1;
    const r2 = await ingestFile(store, "lines", file, env2, skip);
    assert.equal(r2.code, 0, r2.stderr);
    const rest = payloads(store, "web-01", "rest");
    assert.equal(rest.length, lines.length - 2);
    assert.equal(rest[0], lines[2]);
    assert.equal(rest.at(-1), lines.at(-1));
  } finally {
    await d.stop();
  }
});

test("blob from a regular file: stored whole in 1 MiB frames; over max_blob, refused midway", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const object = randomBytes(3 * 1024 * 1024 + 12345); // three full frames and a short one
  const file = join(root, "object.bin");
  writeFileSync(file, object);
  const big = join(root, "big.bin");
  writeFileSync(big, randomBytes(8 * 1024 * 1024));
  const d = await serve(store, '[store]\nmax_blob = "4MiB"\n');
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "win10", QREXEC_SERVICE_ARGUMENT: "pcap" };
    const r = await ingestFile(store, "blob", file, env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(join(store, "origins", "win10", "pcap", "objects")), [`${sha(object)}.zst`]);
    assert.match(
      streamText(store, "win10", "pcap"),
      new RegExp(`!blob sha256=${sha(object)} size=${object.length} `),
    );

    // the collector answers at 4 MiB while ingest still has 4 MiB to send: its refusal, exit 1
    for (let round = 0; round < 5; round++) {
      const refused = await ingestFile(store, "blob", big, env);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /^logward: The collector ended the session: refused: the object is larger than max_blob \(4194304 bytes\); nothing was stored\.\n$/,
      );
    }
    assert.equal(readdirSync(join(store, "origins", "win10", "pcap", "objects")).length, 1);
  } finally {
    await d.stop();
  }
});

test("a regular file that cannot be read: one sentence and exit 1, nothing confirmed", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const file = join(root, "write-only.log");
  writeFileSync(file, "a line\n");
  const d = await serve(store);
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "web-01", QREXEC_SERVICE_ARGUMENT: "main" };
    const r = await ingestFile(store, "lines", file, env, 0, "a"); // stdin open for appending only
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^logward: Reading standard input failed \(EBADF: bad file descriptor, read\); nothing is confirmed durable, so the sender should send it again\.\n$/,
    );
  } finally {
    await d.stop();
  }
});

test("through a socket, as qrexec gives stdin: every line once and in order, a blob whole", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const lines = manyLines();
  const object = randomBytes(3 * 1024 * 1024 + 777);
  const d = await serve(store, '[collector]\nmax_record = "512KiB"\n');
  try {
    // the helper's stdin is the socketpair Node makes for a child's "pipe"
    const r = await ingest(store, "lines", `${lines.join("\n")}\n`, {
      QREXEC_REMOTE_DOMAIN: "web-01",
      QREXEC_SERVICE_ARGUMENT: "main",
    });
    assert.equal(r.code, 0, r.stderr);
    const got = payloads(store, "web-01", "main");
    assert.equal(got.length, lines.length);
    for (let i = 0; i < lines.length; i++) assert.equal(got[i], lines[i], `line ${i}`);

    const b = await ingest(store, "blob", object, {
      QREXEC_REMOTE_DOMAIN: "win10",
      QREXEC_SERVICE_ARGUMENT: "pcap",
    });
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(readdirSync(join(store, "origins", "win10", "pcap", "objects")), [`${sha(object)}.zst`]);
  } finally {
    await d.stop();
  }
});
