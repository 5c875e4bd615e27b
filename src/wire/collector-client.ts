// The client end of the collector's Unix socket (`run/ingest.sock` of a store): `logward ingest`
// relays a sender's bytes after a relay header (relay.ts), `logward rm` sends an admin request
// (admin.ts). Both read the collector's answer as relay frames. The CLI only builds the request
// and prints the outcome; every failure comes back as a LogwardError with its sentence.

import { readSync } from "node:fs";
import { connect, Socket } from "node:net";
import type { Readable } from "node:stream";
import { LogwardError } from "../errors.ts";
import { adminError, decodeRmResult, encodeRmRequest, type RmRequest, type RmResult } from "./admin.ts";
import { FramingError } from "./framer.ts";
import {
  decodeEnd,
  encodeBlobEnd,
  encodeFrame,
  encodeRelayHeader,
  FRAME_DATA,
  FRAME_END,
  FrameDecoder,
  MAX_FRAME_BYTES,
  type RelayEnd,
  type RelayHeader,
} from "./relay.ts";

/** Resolves once connected; rejects with the connection's error (ENOENT: no socket there). */
function connectTo(path: string, allowHalfOpen: boolean): Promise<Socket> {
  const socket = connect({ path, allowHalfOpen });
  return new Promise<Socket>((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves when the socket has closed, whatever its errors. */
function closed(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    socket.on("close", () => resolve());
    socket.on("error", () => {});
  });
}

/**
 * blob: the input's bytes as data frames, then the end frame with the total once the input
 * ends, so the collector can tell a complete object from one whose ingest was killed midway. On
 * the qrexec exec path stdin's EOF is all qrexec gives: it shuts down the service's stdin both
 * when the caller sent EOF and when the caller's vchan closed early (libqrexec/process_io.c,
 * qrexec_process_io: "vchan connection closed early", then close_stdin()), so a caller that
 * died midway cannot be told apart here; docs/PROTOCOL.md says what can be detected.
 */
async function relayBlob(input: Readable, socket: Socket): Promise<void> {
  let total = 0;
  // the collector's answer came (a refusal midway): not one more byte, and no end frame
  const over = () => socket.destroyed || socket.writableEnded;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += MAX_FRAME_BYTES) {
        if (over()) return;
        const part = chunk.subarray(off, off + MAX_FRAME_BYTES);
        total += part.length;
        if (!socket.write(encodeFrame(FRAME_DATA, part))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              socket.off("drain", done);
              socket.off("close", done);
              socket.off("finish", done);
              resolve();
            };
            socket.on("drain", done);
            socket.on("close", done);
            socket.on("finish", done);
          });
        }
      }
    }
  } catch {
    return; // the input failed: no end frame, so the collector stores nothing
  }
  if (!over()) endRelay(socket, true, total);
}

/** Bytes read from a regular file at a time: a blob's data frame holds at most this many. */
const FILE_CHUNK = MAX_FRAME_BYTES;
/** Room before the bytes read for a blob frame's header, so that no frame is copied. */
const FRAME_HEAD = 5;

/**
 * Writes `buf[FRAME_HEAD, FRAME_HEAD + n)`, the bytes just read, to the collector: for a blob as
 * a data frame whose header is put in the room before them, so that nothing is copied.
 */
function writeRead(socket: Socket, buf: Buffer, n: number, blob: boolean, done: () => void): void {
  if (blob) {
    buf[0] = FRAME_DATA;
    buf.writeUInt32BE(n, 1);
  }
  socket.write(buf.subarray(blob ? 0 : FRAME_HEAD, FRAME_HEAD + n), done);
}

/** The input ended: ends the relay (a blob with its end frame, saying how many bytes it had). */
function endRelay(socket: Socket, blob: boolean, total: number): void {
  if (blob) socket.end(encodeBlobEnd(total));
  else socket.end();
}

/**
 * A regular file as input (`ingest < file`, as the bench runs it): read here with readSync into
 * two reused buffers, one being read while the other is written. No stream: fs.ReadStream
 * costs a fresh buffer a read, a thread pool, and, at start, loading the fs streams with
 * fs/promises and readline behind them (npm run bench: 20 of these start at once). Backpressure:
 * a buffer is read into again only once the socket has written it out. A regular file's read
 * never waits on a sender, so a synchronous read holds nothing up; pipes and sockets (qrexec's
 * stdin) are relayPipe's. Resolves true at the input's end (the socket then ended, with
 * blob's end frame), false when the collector's answer or a closed socket stopped it; throws
 * the read's error.
 */
async function relayFile(fd: number, socket: Socket, blob: boolean, gone: Promise<void>): Promise<boolean> {
  const bufs = [
    Buffer.allocUnsafeSlow(FRAME_HEAD + FILE_CHUNK),
    Buffer.allocUnsafeSlow(FRAME_HEAD + FILE_CHUNK),
  ];
  const written: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  // the collector's answer came (a refusal midway) or the socket closed: not one more byte
  const over = () => socket.destroyed || socket.writableEnded;
  let total = 0;
  for (let i = 0; ; i ^= 1) {
    await Promise.race([written[i], gone]);
    if (over()) return false;
    const buf = bufs[i]!;
    const n = readSync(fd, buf, FRAME_HEAD, FILE_CHUNK, null);
    if (n === 0) break;
    total += n;
    written[i] = new Promise<void>((resolve) => writeRead(socket, buf, n, blob, resolve));
  }
  if (over()) return false;
  endRelay(socket, blob, total);
  return true;
}

/**
 * A pipe or socket as input (qrexec's socketpair, `cat file | ingest`): a socket of its own on
 * the descriptor, whose reads land in one reused buffer (net's onread), each written out before
 * the next read starts (backpressure). process.stdin instead allocates a buffer for each read
 * and queues it through the stream machinery: 107 MB through a pipe cost 253 ms of CPU that
 * way, 184 ms this way (a second buffer, read while the first is written, cost 198 ms). Same
 * results as relayFile.
 */
function relayPipe(fd: number, socket: Socket, blob: boolean, gone: Promise<void>): Promise<boolean> {
  const buf = Buffer.allocUnsafeSlow(FRAME_HEAD + FILE_CHUNK);
  const over = () => socket.destroyed || socket.writableEnded;
  let total = 0;
  return new Promise<boolean>((resolve, reject) => {
    const input: Socket = new Socket({
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer: buf.subarray(FRAME_HEAD),
        callback: (n: number) => {
          if (over()) {
            input.destroy();
            resolve(false);
            return false;
          }
          total += n;
          writeRead(socket, buf, n, blob, () => {
            if (!input.destroyed) input.resume();
          });
          return false; // no read into buf until the socket has written it out
        },
      },
    });
    input.on("end", () => {
      input.destroy();
      if (over()) resolve(false);
      else {
        endRelay(socket, blob, total);
        resolve(true);
      }
    });
    input.on("error", reject);
    void gone.then(() => {
      input.destroy();
      resolve(false);
    });
  });
}

/** What relayToCollector relays: a stream, or a descriptor that it reads itself. */
export type RelayInput = Readable | { kind: "file" | "pipe"; fd: number };

/**
 * Relays the input `openInput` gives (called once connected, so nothing is read when no
 * collector listens) to the collector listening on `socketPath` under `header`, with
 * backpressure (the input is read only as fast as the collector takes it), and hands the
 * collector's data frames for the sender to `onData`. The input is a stream, the descriptor
 * of a regular file (read from its current offset, left open), or that of a pipe or socket
 * (closed at the end). Resolves once the collector
 * confirmed that everything relayed is durable; LW_NO_COLLECTOR when none listens,
 * LW_NOT_DURABLE when it refused or closed without confirming, or the input could not be read.
 * A stream is destroyed at the end.
 */
export async function relayToCollector(
  socketPath: string,
  header: RelayHeader,
  openInput: () => RelayInput,
  onData: (bytes: Buffer) => void,
): Promise<void> {
  let socket: Socket;
  try {
    socket = await connectTo(socketPath, true);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw err.code === "ENOENT" || err.code === "ECONNREFUSED"
      ? new LogwardError(
          "LW_NO_COLLECTOR",
          `No collector is running for this store (nothing listens on ${socketPath}); start 'logward serve'.`,
        )
      : new LogwardError(
          "LW_NO_COLLECTOR",
          `Cannot connect to the collector at ${socketPath}: ${err.message}.`,
        );
  }
  socket.write(encodeRelayHeader(header));
  const gone = closed(socket);
  const input = openInput();
  let readError: Error | null = null;
  if ("kind" in input) {
    const relay = input.kind === "file" ? relayFile : relayPipe;
    relay(input.fd, socket, header.format === "blob", gone).catch((err: Error) => {
      // cut off, as if ingest were killed: no blob end frame, so no object is stored; records
      // already relayed may be kept, but none is confirmed
      readError = err;
      socket.destroy();
    });
  } else if (header.format === "blob") void relayBlob(input, socket);
  else input.pipe(socket);
  let end: RelayEnd | null = null;
  const decoder = new FrameDecoder((type, payload) => {
    if (type === FRAME_DATA) onData(payload);
    else {
      end = decodeEnd(payload);
      // the collector's last word (an answer before the end of the input is a refusal): stop
      // sending, so that no write of ours fails on a connection the collector then closes
      // (relayFile and relayPipe stop once the socket has ended)
      if (!("kind" in input)) input.unpipe(socket);
      if (!socket.writableEnded) socket.end();
    }
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      socket.destroy(err instanceof FramingError ? err : new Error(String(err)));
    }
  });
  // the collector ends its side only after its last frame, or because it died: either way
  // the session is over, even if the sender is still waiting for a reply that will not come
  socket.on("end", () => socket.destroy());
  await gone;
  if (!("kind" in input)) {
    input.unpipe(socket);
    input.destroy();
  }
  const result = end as RelayEnd | null;
  const failed = readError as Error | null;
  if (failed) {
    throw new LogwardError(
      "LW_NOT_DURABLE",
      `Reading standard input failed (${failed.message}); nothing is confirmed durable, so the sender should send it again.`,
      { cause: failed },
    );
  }
  if (!result) {
    throw new LogwardError(
      "LW_NOT_DURABLE",
      "The collector closed the connection before confirming that the records are durable; the sender should send them again.",
    );
  }
  if (!result.ok) {
    // the collector's reason may already be a sentence ("... is refused."): one full stop
    const why = result.message.replace(/\.+$/, "");
    throw new LogwardError("LW_NOT_DURABLE", `The collector ended the session: ${why}.`);
  }
}

/**
 * Sends an rm request to the collector listening on `socketPath` and returns its answer; null
 * when none can be reached (the caller then does the work alone). A refusal throws the
 * collector's error, with its code; LW_NO_COLLECTOR when it closed without answering.
 */
export async function askCollector(socketPath: string, req: RmRequest): Promise<RmResult | null> {
  let socket: Socket;
  try {
    socket = await connectTo(socketPath, false);
  } catch {
    return null;
  }
  socket.write(encodeRmRequest(req));
  let result: RmResult | null = null;
  const decoder = new FrameDecoder((type, payload) => {
    if (type === FRAME_END) result = decodeRmResult(payload);
  });
  socket.on("data", (c: Buffer) => {
    try {
      decoder.push(c);
    } catch {
      // a garbled answer confirms nothing: the caller says so below
      result = null;
      socket.destroy();
    }
  });
  await closed(socket);
  const r = result as RmResult | null;
  if (!r)
    throw new LogwardError(
      "LW_NO_COLLECTOR",
      "The collector closed the connection without answering; nothing was confirmed deleted.",
    );
  if (!r.ok) throw adminError(r);
  return r;
}
