// The unix datagram socket of a `[[listen]] transport = "unix"` listener (like /dev/log), for
// datagram-listener.ts: Node cannot bind one, so the helper of src/wire/unix-datagrams.ts binds
// it and pipes each datagram here. Unlike UDP it can wait: while the listener holds a datagram
// (the stream backlogged, a refusing quota, the disk reserve, a rate limit) the pipe is not
// read, the helper blocks, the socket's queue fills and the senders wait (a blocking send, as
// glibc's syslog(3) and logger do) instead of anything being dropped.
//
// The address is checked before the helper runs, so that serve refuses with one sentence naming
// the table and key: a path too long for a socket, a parent that is not a directory, a symbolic
// link, a file that is not a socket (never removed), a socket another program is bound to. A
// helper that cannot run (no python3) refuses the same way. One that dies later is started
// again with backoff (1 s doubling to 60 s), each time an `event=unix-helper` in
// `_logward/events`; serve never stops for it. On close the helper removes its socket; if it
// could not (killed), the listener removes it, only while it is still the same socket.

import { lstatSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { listenWhere } from "../config/listen.ts";
import type { ListenConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import { DgramHelperError, UnixDatagramSocket } from "../wire/unix-datagrams.ts";

/** sun_path holds 108 bytes with its terminating NUL. */
const UNIX_PATH_MAX = 107;
const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 60_000;
/** A helper that ran this long before it ended starts again after the first wait. */
const RESTART_RESET_MS = 60_000;

/** Hands one datagram to the listener; a promise means: read on once it settles. */
export type Deliver = (msg: Buffer, address: string, received: number) => undefined | Promise<void>;

/** Where a listener's datagrams come from: its UDP socket, or this. */
export interface DatagramSource {
  /** True when reading can stop (the senders wait), so a datagram is held, never dropped, for backpressure. */
  readonly canWait: boolean;
  /** The kernel's count of datagrams it dropped on this socket, or null where there is none. */
  kernelDrops(): number | null;
  /** Stops receiving; resolves once everything received has been delivered. */
  close(): Promise<void>;
}

type EventFn = (name: string, fields: Record<string, string | number>) => void;

/** `l`'s address, checked: throws a LogwardError naming the table and key. */
export function checkUnixAddress(l: ListenConfig): void {
  const where = `${listenWhere(l.index)}: address ${l.address}`;
  if (Buffer.byteLength(l.address) > UNIX_PATH_MAX)
    throw new LogwardError(
      "LW_LISTEN",
      `${where} is longer than ${UNIX_PATH_MAX} bytes, the limit of a socket path; choose a shorter path.`,
    );
  const parent = dirname(l.address);
  let isDir = false;
  try {
    isDir = statSync(parent).isDirectory();
  } catch {
    // missing or unreadable: not a directory serve can bind in
  }
  if (!isDir)
    throw new LogwardError(
      "LW_LISTEN",
      `${where} cannot be listened on: ${parent} is not a directory; create it or choose another path.`,
    );
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(l.address);
  } catch {
    return; // nothing there yet
  }
  if (st.isSymbolicLink())
    throw new LogwardError(
      "LW_LISTEN",
      `${where} is a symbolic link, which serve never binds through; remove it or choose another path.`,
    );
  if (!st.isSocket())
    throw new LogwardError(
      "LW_LISTEN",
      `${where} exists and is not a socket (serve never removes such a file); remove it or choose another path.`,
    );
}

/** The helper's refusal as one sentence naming the table and key. */
function refusal(l: ListenConfig, err: unknown): LogwardError {
  const where = `${listenWhere(l.index)}: address ${l.address}`;
  if (!(err instanceof DgramHelperError))
    return new LogwardError("LW_LISTEN", `${where} cannot be listened on (${(err as Error).message}).`);
  switch (err.reason) {
    case "python":
      return new LogwardError(
        "LW_LISTEN",
        `${listenWhere(l.index)}: transport = "unix" needs python3 to bind its socket, and ${err.message}; install python3 or use transport = "udp".`,
      );
    case "inuse":
      return new LogwardError("LW_LISTEN", `${where} cannot be listened on (it is in use: ${err.message}).`);
    case "exited":
      return new LogwardError(
        "LW_LISTEN",
        `${listenWhere(l.index)}: transport = "unix": ${err.message} before binding ${l.address}.`,
      );
    default:
      return new LogwardError("LW_LISTEN", `${where} cannot be listened on (${err.message}).`);
  }
}

export class UnixDatagramSource implements DatagramSource {
  readonly canWait = true;
  private readonly config: ListenConfig;
  private readonly maxBytes: number;
  private readonly deliver: Deliver;
  private readonly event: EventFn;
  private socket: UnixDatagramSocket;
  private readonly reading: Promise<void>;
  private closed = false;
  private wake: (() => void) | null = null;

  private constructor(
    l: ListenConfig,
    maxBytes: number,
    socket: UnixDatagramSocket,
    deliver: Deliver,
    event: EventFn,
  ) {
    this.config = l;
    this.maxBytes = maxBytes;
    this.socket = socket;
    this.deliver = deliver;
    this.event = event;
    this.reading = this.run();
  }

  /** Binds `l`'s address through the helper; datagrams of at most `maxBytes` are kept whole. */
  static async start(
    l: ListenConfig,
    maxBytes: number,
    deliver: Deliver,
    event: EventFn,
  ): Promise<UnixDatagramSource> {
    checkUnixAddress(l);
    let socket: UnixDatagramSocket;
    try {
      socket = await UnixDatagramSocket.start({ path: l.address, mode: l.mode, maxBytes });
    } catch (err) {
      throw refusal(l, err);
    }
    return new UnixDatagramSource(l, maxBytes, socket, deliver, event);
  }

  kernelDrops(): null {
    // a unix datagram socket does not drop: a full queue makes the sender wait (or fail, if it
    // does not block), and the sender sees it
    return null;
  }

  /** Reads the helper until it ends; then starts it again with backoff, until closed. */
  private async run(): Promise<void> {
    let attempt = 0;
    for (;;) {
      const started = Date.now();
      let how = await this.socket.read((kept, received) => this.deliver(kept, "", received));
      if (this.closed) return;
      if (Date.now() - started > RESTART_RESET_MS) attempt = 0;
      for (;;) {
        const wait = Math.min(RESTART_FIRST_MS * 2 ** attempt, RESTART_MAX_MS);
        attempt++;
        this.event("unix-helper", { listener: this.config.address, ended: how, restart_in: wait });
        process.stderr.write(
          `logward: ${listenWhere(this.config.index)} unix ${this.config.address}: the socket helper ended (${how}); starting it again in ${wait} ms\n`,
        );
        await new Promise<void>((r) => {
          const t = setTimeout(r, wait);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = null;
        if (this.closed) return;
        try {
          this.socket = await UnixDatagramSocket.start({
            path: this.config.address,
            mode: this.config.mode,
            maxBytes: this.maxBytes,
          });
          break;
        } catch (err) {
          how = (err as Error).message;
        }
      }
      if (this.closed) {
        await this.socket.stop();
        return;
      }
    }
  }

  /** Ends the helper (its socket goes) and delivers what it had already sent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    const socket = this.socket;
    await socket.stop();
    await this.reading;
    try {
      // the helper removes its socket; a killed one could not
      const st = lstatSync(socket.path);
      if (st.isSocket() && st.ino === socket.inode) unlinkSync(socket.path);
    } catch {
      // gone already
    }
  }
}
