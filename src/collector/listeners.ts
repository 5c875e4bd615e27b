// The sockets the collector listens on and what a connection says before it is a session:
// the relay socket for `logward ingest` (origin in its header, written by ingest from qrexec's
// environment), qrexec socket services (origin in qrexec's descriptor), and local sockets
// whose origin the admin configured (`[[collector.local]]`). Who is calling comes from the
// channel, never from content. Also how a framed connection is closed once a session is over.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { LogwardError } from "../errors.ts";
import { isValidName } from "../store/names.ts";
import { FramingError } from "../wire/framer.ts";
import { MAX_DESCRIPTOR_BYTES, parseDescriptor } from "../wire/qrexec.ts";
import { encodeEnd, MAX_HEADER_BYTES, parseLocalHeader, parseRelayHeader } from "../wire/relay.ts";
import type { Intake, IntakeHost, SessionResult } from "./intake.ts";
import type { SessionFormat, Transport } from "./session.ts";

const UNIX_PATH_MAX = 107;

/** What a listening socket is (see the top of this file). */
export type Listener =
  | { kind: "relay"; path: string }
  | { kind: "qrexec"; path: string }
  | { kind: "local"; path: string; origin: string }
  /** A `[[listen]]` TCP or TLS listener (net-listeners.ts); `path` names it in events. */
  | { kind: "net"; path: string };

/** Relay and local sockets wrap replies in relay frames; qrexec and `[[listen]]` get them bare. */
export const framed = (l: Listener) => l.kind === "relay" || l.kind === "local";

/** How long a sender that is still sending gets to read the collector's last frame and stop. */
const DRAIN_MS = 5000;

/**
 * Closes a framed connection once the sender has stopped sending. A session can end while its
 * sender is still writing (a blob over max_blob, a quota, a protocol error): closing at once
 * would make the sender's next write fail (EPIPE, ECONNRESET) and a sender may see that before
 * it reads the `E` frame just sent, so it would report a broken connection instead of the
 * collector's answer (and `ship` would retry a refusal). So the sender's bytes are read and
 * dropped until it ends its side (`ingest` does as soon as it reads the `E` frame), for at most
 * DRAIN_MS.
 */
function drainThenClose(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.readableEnded) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
  timer.unref();
  socket.once("end", () => socket.destroy());
  socket.once("close", () => clearTimeout(timer));
  socket.resume(); // the session's data handler ignores everything once it has ended
}

/** A connection turned away before it became a session: say why (relay, local), then close. */
export function sayRefused(socket: Socket, listener: Listener, why: string): void {
  const last = framed(listener)
    ? encodeEnd({ ok: false, records: 0, bytes: 0, message: why })
    : Buffer.alloc(0);
  socket.end(last, () => socket.destroy());
}

/**
 * A session is over, its records durable or not: say so (relay, local: an `E` frame), then
 * close even if the peer never does.
 */
export function sayEnded(socket: Socket, listener: Listener, result: SessionResult): void {
  if (socket.destroyed) return;
  if (framed(listener)) {
    const last = encodeEnd({
      ok: result.ok,
      records: result.records,
      bytes: result.bytes,
      message: result.ok ? "durable" : result.reason,
    });
    socket.end(last, () => drainThenClose(socket));
  } else socket.end(Buffer.alloc(0), () => socket.destroy());
}

/**
 * Listens on the listener's path (an old socket there is replaced, any other file is an error)
 * with file mode `mode`; each connection goes to `connection`, later server errors to `failed`.
 */
export async function listenOn(
  listener: Listener,
  mode: number,
  connection: (socket: Socket) => void,
  failed: (err: Error) => void,
): Promise<Server> {
  const path = listener.path;
  if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
    throw new LogwardError(
      "LW_LISTEN",
      `The socket path ${path} is longer than ${UNIX_PATH_MAX} bytes; use a shorter --store or socket path.`,
    );
  }
  try {
    // only ever remove an old socket, never a file that happens to be there
    if (lstatSync(path).isSocket()) unlinkSync(path);
    else
      throw new LogwardError(
        "LW_LISTEN",
        `${path} exists and is not a socket; remove it or configure another path.`,
      );
  } catch (err) {
    if (err instanceof LogwardError) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, connection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new LogwardError("LW_LISTEN", `Cannot listen on ${path}: ${err.message}.`)),
    );
    server.listen(path, () => resolve());
  });
  chmodSync(path, mode);
  server.on("error", failed);
  return server;
}

/**
 * Reads a connection's header (relay, local: up to LF) or descriptor (qrexec: up to NUL) and
 * pauses the socket; then `got` has it, the bytes read after it, and `takeEnded()`, which says
 * whether the sender already half-closed (it may send everything before the session exists).
 * One longer than the limit, or a connection that ends before it, goes to `tooLong`.
 */
export function readHead(
  socket: Socket,
  listener: Listener,
  got: (head: Buffer, rest: Buffer, takeEnded: () => boolean) => void,
  tooLong: (why: string) => void,
): void {
  const kind = listener.kind;
  const terminator = kind === "qrexec" ? 0x00 : 0x0a;
  const limit = kind === "qrexec" ? MAX_DESCRIPTOR_BYTES : MAX_HEADER_BYTES;
  let head: Buffer = Buffer.alloc(0);
  let endedEarly = false;
  let reading = true; // no header yet, nor a refusal
  const onEnd = () => {
    endedEarly = true;
    // a sender that ends before its header never sends one: close now, not at header_timeout
    // (a half-open connection keeps its descriptor, and a flood of them would keep them all)
    if (reading) {
      reading = false;
      socket.off("data", onData);
      tooLong(`the connection ended before its ${kind === "qrexec" ? "descriptor" : "header"}`);
    }
  };
  socket.once("end", onEnd);
  const onData = (chunk: Buffer) => {
    head = head.length ? Buffer.concat([head, chunk]) : chunk;
    const at = head.indexOf(terminator);
    if (at === -1) {
      if (head.length > limit) {
        reading = false;
        socket.off("data", onData);
        tooLong(`${kind === "qrexec" ? "descriptor" : "header"} longer than ${limit} bytes`);
      }
      return;
    }
    reading = false;
    socket.off("data", onData);
    socket.pause();
    got(head.subarray(0, at), head.subarray(at + 1), () => {
      socket.off("end", onEnd);
      return endedEarly;
    });
  };
  socket.on("data", onData);
}

/** Who is calling and what they send, from the channel: never from the content. */
export interface Caller {
  origin: string;
  stream: string;
  format: SessionFormat;
  transport: Transport;
  /** An intake other than the format's own (RELP on a `[[listen]]` connection). */
  intake?: ((host: IntakeHost) => Intake) | undefined;
}

/** The caller a header or descriptor names; a FramingError when it is not acceptable. */
export function identify(listener: Listener, head: Buffer): Caller {
  let caller: Caller;
  if (listener.kind === "relay") {
    const { origin, stream, format } = parseRelayHeader(head.toString("latin1"));
    caller = { origin, stream, format, transport: "qrexec-exec" };
  } else if (listener.kind === "local") {
    const { stream, format } = parseLocalHeader(head.toString("latin1"));
    caller = { origin: listener.origin, stream, format, transport: "local" };
  } else {
    const d = parseDescriptor(head);
    caller = {
      origin: d.sourceDomain,
      stream: d.argument ?? "main",
      format: d.format,
      transport: "qrexec-socket",
    };
  }
  if (!isValidName(caller.origin)) throw new FramingError(`invalid origin name from the channel`);
  if (!isValidName(caller.stream)) throw new FramingError(`invalid stream name from origin ${caller.origin}`);
  return caller;
}
