// The client end of the collector's Unix socket (`run/ingest.sock` of a store): `logward ingest`
// relays a sender's bytes after a relay header (relay.ts), `logward rm` sends an admin request
// (admin.ts). Both read the collector's answer as relay frames. The CLI only builds the request
// and prints the outcome; every failure comes back as a LogwardError with its sentence.

import { connect, type Socket } from "node:net";
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
  if (!over()) socket.end(encodeBlobEnd(total));
}

/**
 * Relays the input `openInput` gives (called once connected, so nothing is read when no
 * collector listens) to the collector listening on `socketPath` under `header`, with
 * backpressure (the input is read only as fast as the collector takes it), and hands the
 * collector's data frames for the sender to `onData`. Resolves once the collector confirmed
 * that everything relayed is durable; LW_NO_COLLECTOR when none listens, LW_NOT_DURABLE when it
 * refused or closed without confirming. The input is destroyed at the end.
 */
export async function relayToCollector(
  socketPath: string,
  header: RelayHeader,
  openInput: () => Readable,
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
  const input = openInput();
  if (header.format === "blob") void relayBlob(input, socket);
  else input.pipe(socket);
  let end: RelayEnd | null = null;
  const decoder = new FrameDecoder((type, payload) => {
    if (type === FRAME_DATA) onData(payload);
    else {
      end = decodeEnd(payload);
      // the collector's last word (an answer before the end of the input is a refusal): stop
      // sending, so that no write of ours fails on a connection the collector then closes
      input.unpipe(socket);
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
  await closed(socket);
  input.unpipe(socket);
  input.destroy();
  const result = end as RelayEnd | null;
  if (!result) {
    throw new LogwardError(
      "LW_NOT_DURABLE",
      "The collector closed the connection before confirming that the records are durable; the sender should send them again.",
    );
  }
  if (!result.ok) {
    throw new LogwardError("LW_NOT_DURABLE", `The collector ended the session: ${result.message}.`);
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
