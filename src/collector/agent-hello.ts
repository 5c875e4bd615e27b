// `[[listen]] protocol = "agent"` (mutual TLS): a connection's stream is named by the agent
// hello, its first frame, so the hello is read before the connection becomes a session (as a
// qrexec descriptor is). Read, never trusted beyond its frame: at most 5 + 512 bytes, within
// the listener's handshake_timeout, a `H` frame with a valid hello and stream name; anything
// else refuses the connection. The bytes read (the hello and whatever followed it) are put
// back in front of the paused socket (unshift) for the session, whose agent intake reads the
// hello again and answers with its welcome: the sender speaks exactly what it speaks on a
// qrexec socket service.

import type { Socket } from "node:net";
import { isValidName } from "../store/names.ts";
import { MAX_HELLO, parseHello, T_HELLO } from "../wire/agent.ts";
import { FramingError } from "../wire/framer.ts";

/** The hello's stream, and every byte read (the hello and what followed it). */
export interface HelloRead {
  stream: string;
  first: Buffer;
}

/** The stream a complete hello frame at the start of `buf` names; null while it is incomplete. */
export function helloStream(buf: Buffer): string | null {
  if (buf.length < 1) return null;
  if (buf[0] !== T_HELLO) throw new FramingError("the first frame is not a logward-agent hello");
  if (buf.length < 5) return null;
  const len = buf.readUInt32BE(1);
  if (len > MAX_HELLO) throw new FramingError(`the hello is longer than ${MAX_HELLO} bytes`);
  if (buf.length < 5 + len) return null;
  const { stream } = parseHello(buf.toString("latin1", 5, 5 + len));
  if (!isValidName(stream)) throw new FramingError("the hello's stream is not a valid stream name");
  return stream;
}

/**
 * Reads the hello from `socket` (flowing), then pauses it and calls `got`; a bad or late hello,
 * or a connection that ends before it, calls `refuse` with why (the socket is left to it).
 */
export function readHello(
  socket: Socket,
  timeoutMs: number,
  got: (h: HelloRead) => void,
  refuse: (why: string) => void,
): void {
  let buf: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = () => {
    done = true;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", onClose);
  };
  const timer = setTimeout(() => {
    if (done) return;
    finish();
    refuse(`no agent hello within ${timeoutMs} ms`);
  }, timeoutMs);
  timer.unref();
  const onData = (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let stream: string | null;
    try {
      stream = helloStream(buf);
    } catch (err) {
      finish();
      refuse((err as Error).message);
      return;
    }
    if (stream === null) return;
    finish();
    socket.pause();
    got({ stream, first: buf });
  };
  const onEnd = () => {
    if (!done) {
      finish();
      refuse("the connection ended before its agent hello");
    }
  };
  const onClose = () => {
    if (!done) finish();
  };
  socket.on("data", onData);
  // a reset while the hello is read (or before the session has its own handlers) is no crash:
  // the close that follows ends it
  socket.on("error", () => {});
  socket.once("end", onEnd);
  socket.once("close", onClose);
  socket.resume();
}
