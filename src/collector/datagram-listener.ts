// The `[[listen]]` datagram listeners, `transport = "udp"` and `"unix"` (a datagram socket like
// /dev/log): one datagram is one record, appended as received to the listener's stream of its
// origin (udp: the peer address as an origin name, or a fixed name, peer-origin.ts; unix: always
// a fixed name, a datagram socket has no peer address). Each origin's records form one long
// flow, with an `!open` at its first datagram and a `!close` when the collector stops, like a
// session's. Where a TCP session would stop reading (the stream's writer backlogged, a quota
// with on_quota = "refuse", the disk reserve, a rate limit):
//   - unix stops reading too (unix-datagram-source.ts: its helper's pipe is not read, the
//     socket's queue fills and the senders wait): nothing is dropped for backpressure. A
//     datagram longer than `max_record` is cut, with a `!trunc` naming its real length;
//   - UDP cannot push back, so the datagram is dropped and counted.
// Nothing is dropped silently:
//   - drops by the collector: a `!gap dropped=N reason=...` in the origin's stream before its
//     next record, and `event=udp-dropped` (`unix-dropped`) in `_logward/events` (at most one per
//     listener every DROP_REPORT_MS, summing every origin);
//   - drops by the kernel (a UDP socket's receive buffer overflowed before the collector read
//     it): the `drops` column of /proc/net/udp(6) for the socket's inode, read every
//     DROP_REPORT_MS, its increase recorded as `event=udp-dropped ... kernel=N`.

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync, readlinkSync } from "node:fs";
import { listenWhere } from "../config/listen.ts";
import type { ListenConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { addressOrigin } from "./peer-origin.ts";
import type { SessionPolicy } from "./session.ts";
import { newSessionId } from "./session.ts";
import { type DatagramSource, type Deliver, UnixDatagramSource } from "./unix-datagram-source.ts";

/** How often drops are looked at and recorded. */
export const DROP_REPORT_MS = 10_000;
/** Datagrams held for an origin whose stream is still being opened; more are dropped. */
const MAX_WAITING = 1024;
/**
 * Origins one listener keeps a flow for. A UDP source address can be forged, so with
 * origin = "address" each forged address would open a stream: past this many, datagrams from a
 * new origin are dropped and counted like every other drop.
 */
export const MAX_FLOWS = 1024;
/** Peer addresses whose origin name is remembered (worked out once, not per datagram). */
const MAX_ADDRESSES = 4096;
/** The socket's receive buffer: a burst of about a thousand 1 KiB messages. */
const RECV_BUFFER_BYTES = 1 << 20;

/** What a datagram listener asks of the collector. */
export interface DatagramHost {
  /** Opens (and tracks in the policy) the origin's stream; throws a LogwardError to refuse. */
  openStream(origin: string, stream: string): Promise<StreamWriter>;
  readonly policy: Pick<SessionPolicy, "noteAppend" | "takeRate" | "blocked" | "whenChanged">;
  event(name: string, fields: Record<string, string | number>): void;
  /**
   * An event a sender can cause over and over (one origin's refused stream, datagram after
   * datagram): written once per origin and kind a minute, the rest counted (repeats.ts).
   */
  repeated(name: string, origin: string, kind: string, fields: Record<string, string | number>): void;
  /** unix: a longer datagram is cut to this (`max_record`). */
  readonly maxRecordBytes: number;
}

/** One origin's records on one listener. */
interface Flow {
  writer: StreamWriter | null;
  /** Settles when the stream is open, or could not be (the flow is then gone). */
  opened: Promise<void>;
  id: string;
  records: number;
  truncated: number;
  /** Datagrams that arrived while the stream was being opened (udp). */
  /** Datagrams held while the stream opens, each with the length received (it may have been cut). */
  waiting: { msg: Buffer; received: number }[];
  /** Dropped since the last `!gap`, and why (the last reason). */
  dropped: number;
  reason: string;
  /** Over the origin's rate limit: udp drops, unix waits, until this time. */
  rateUntil: number;
}

/**
 * The file descriptor of a bound UDP socket, for its inode in /proc. Node keeps the handle
 * under its internal "state symbol" (`_handle` is the deprecated way, DEP0112, and warns).
 */
function socketFd(socket: UdpSocket): number | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const handle = state
    ? (socket as unknown as Record<symbol, { handle?: { fd?: number } }>)[state]?.handle
    : undefined;
  return handle?.fd;
}

/** A bound UDP socket as a datagram source: it cannot wait, its kernel drops are in /proc. */
class UdpSource implements DatagramSource {
  readonly canWait = false;
  private readonly socket: UdpSocket;

  private constructor(socket: UdpSocket) {
    this.socket = socket;
  }

  /** Binds `l`'s address; an address in use is an error naming the table and key. */
  static async start(l: ListenConfig, deliver: Deliver, host: DatagramHost): Promise<UdpSource> {
    const socket = createSocket({
      type: l.host.includes(":") ? "udp6" : "udp4",
      recvBufferSize: RECV_BUFFER_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", (err: NodeJS.ErrnoException) =>
        reject(
          new LogwardError(
            "LW_LISTEN",
            `${listenWhere(l.index)}: address ${l.address} cannot be listened on (${err.code === "EADDRINUSE" ? "it is in use" : err.message}).`,
          ),
        ),
      );
      socket.bind({ address: l.host, port: l.port, exclusive: true }, () => resolve());
    });
    socket.on("error", (err) => host.event("error", { listener: l.address, message: err.message }));
    // a datagram longer than max_record (set below UDP's 64 KiB) is cut there, like any record
    const max = host.maxRecordBytes;
    socket.on("message", (msg, rinfo) =>
      deliver(msg.length > max ? msg.subarray(0, max) : msg, rinfo.address, msg.length),
    );
    return new UdpSource(socket);
  }

  /** The kernel's drop count for this socket (/proc/net/udp, udp6), or null where unknown. */
  kernelDrops(): number | null {
    try {
      const fd = socketFd(this.socket);
      if (fd === undefined || fd < 0) return null;
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (!inode) return null;
      for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
        for (const line of readFileSync(table, "latin1").split("\n").slice(1)) {
          const cols = line.trim().split(/\s+/);
          if (cols[9] === inode) return Number(cols[12]);
        }
      }
    } catch {
      // no /proc (not Linux), or the socket is closing
    }
    return null;
  }

  close(): Promise<void> {
    return new Promise<void>((r) => this.socket.close(() => r()));
  }
}

export class DatagramListener {
  readonly config: ListenConfig;
  private source!: DatagramSource;
  private readonly host: DatagramHost;
  private readonly flows = new Map<string, Flow>();
  private timer: NodeJS.Timeout | undefined;
  /** Dropped by the collector since the last report, and by the kernel as last read. */
  private droppedHere = 0;
  private readonly origins = new Map<string, string | null>();
  private kernelDrops: number | null = null;
  /** Stopping: the source delivers what it still has; nothing waits any more. */
  private closing = false;
  private readonly closingStarted: Promise<void>;
  private startClosing!: () => void;
  private closed = false;

  private constructor(l: ListenConfig, host: DatagramHost) {
    this.config = l;
    this.host = host;
    this.closingStarted = new Promise((r) => {
      this.startClosing = r;
    });
  }

  /** Binds `l`'s address; a problem is an error naming the table and key. */
  static async start(l: ListenConfig, host: DatagramHost): Promise<DatagramListener> {
    const listener = new DatagramListener(l, host);
    const deliver: Deliver = (msg, address, received) => listener.datagram(msg, address, received);
    listener.source =
      l.transport === "unix"
        ? await UnixDatagramSource.start(l, host.maxRecordBytes, deliver, (name, fields) =>
            host.event(name, fields),
          )
        : await UdpSource.start(l, deliver, host);
    listener.kernelDrops = listener.source.kernelDrops();
    listener.timer = setInterval(() => listener.reportDrops(), DROP_REPORT_MS);
    listener.timer.unref();
    return listener;
  }

  /** The listener's kernel drop count now (tests: the socket's inode is found). */
  readKernelDrops(): number | null {
    return this.source.kernelDrops();
  }

  private datagram(msg: Buffer, address: string, received: number): undefined | Promise<void> {
    if (this.closed) return;
    const l = this.config;
    const origin = l.origin === "address" ? this.originOf(address) : l.origin;
    if (origin === null) return;
    let flow = this.flows.get(origin);
    if (!flow) {
      if (this.flows.size >= MAX_FLOWS) {
        this.droppedHere++;
        return;
      }
      flow = {
        writer: null,
        opened: Promise.resolve(),
        id: newSessionId(),
        records: 0,
        truncated: 0,
        waiting: [],
        dropped: 0,
        reason: "",
        rateUntil: 0,
      };
      this.flows.set(origin, flow);
      flow.opened = this.open(origin, flow);
    }
    if (this.source.canWait) return this.offer(origin, flow, msg, received);
    if (!flow.writer) {
      if (flow.waiting.length < MAX_WAITING) flow.waiting.push({ msg, received });
      else this.drop(flow, "opening");
      return;
    }
    this.append(origin, flow, msg, received);
  }

  /**
   * A source that can wait (unix): appends the datagram now, or returns what to wait for before
   * offering it again; the source reads nothing more meanwhile (backpressure, not drops).
   */
  private offer(origin: string, flow: Flow, msg: Buffer, received: number): undefined | Promise<void> {
    const hold = this.holdFor(origin, flow);
    if (hold === "drop") {
      this.drop(flow, "blocked");
      return;
    }
    if (!hold) {
      this.append(origin, flow, msg, received);
      return;
    }
    return hold.then(() => {
      const now = this.flows.get(origin);
      if (this.closed) this.droppedHere++;
      // it could not open (counted, an event): dropped; the next datagram tries anew
      else if (now !== flow) this.droppedHere++;
      else return this.offer(origin, flow, msg, received);
    });
  }

  /**
   * What the flow must wait for before it takes a datagram (unix); null: nothing; "drop": the
   * origin is blocked while the listener stops (a refusing quota will not open in time).
   */
  private holdFor(origin: string, flow: Flow): Promise<void> | null | "drop" {
    if (!flow.writer) return flow.opened;
    const policy = this.host.policy;
    if (policy.blocked(origin)) return this.closing ? "drop" : this.untilClosing(policy.whenChanged());
    if (this.closing) return null;
    if (flow.writer.backlogged) return this.untilClosing(flow.writer.whenDrained());
    const rate = flow.rateUntil - Date.now();
    if (rate > 0) return this.untilClosing(new Promise((r) => setTimeout(r, rate)));
    return null;
  }

  /**
   * `hold`, or the listener starting to close, whichever is first: a held datagram is looked at
   * again at once then (the policy's wake-ups do not keep the process alive while it stops).
   */
  private untilClosing(hold: Promise<void>): Promise<void> {
    return Promise.race([hold, this.closingStarted]);
  }

  /** The origin name of a peer address, remembered: the address is parsed once, not per datagram. */
  private originOf(address: string): string | null {
    let origin = this.origins.get(address);
    if (origin === undefined) {
      if (this.origins.size >= MAX_ADDRESSES) this.origins.clear();
      origin = addressOrigin(address);
      this.origins.set(address, origin);
    }
    return origin;
  }

  private async open(origin: string, flow: Flow): Promise<void> {
    let writer: StreamWriter;
    const transport = this.config.transport;
    try {
      writer = await this.host.openStream(origin, this.config.stream);
    } catch (err) {
      // a stream limit, a refused name: these datagrams are lost; the next one tries again
      this.flows.delete(origin);
      this.droppedHere += flow.waiting.length;
      this.host.repeated(`${transport}-refused`, origin, this.config.address, {
        listener: this.config.address,
        origin,
        dropped: flow.waiting.length,
        reason: (err as Error).message,
      });
      return;
    }
    if (this.closed) return;
    const seq = writer.appendCollector("open", `session=${flow.id} transport=${transport} format=syslog`);
    writer.declareType("syslog", seq);
    this.host.policy.noteAppend(origin);
    flow.writer = writer;
    const waiting = flow.waiting;
    flow.waiting = [];
    for (const w of waiting) this.append(origin, flow, w.msg, w.received);
  }

  private append(origin: string, flow: Flow, msg: Buffer, received: number): void {
    const writer = flow.writer!;
    const policy = this.host.policy;
    if (!this.source.canWait) {
      // over its rate: dropped until the bucket has refilled (a datagram cannot wait)
      const full = writer.backlogged
        ? "backlog"
        : policy.blocked(origin)
          ? "blocked"
          : flow.rateUntil > Date.now()
            ? "rate"
            : null;
      if (full) {
        this.drop(flow, full);
        return;
      }
    }
    if (flow.dropped > 0) {
      writer.appendCollector("gap", `dropped=${flow.dropped} reason=${flow.reason} session=${flow.id}`);
      flow.dropped = 0;
    }
    if (received > msg.length) {
      // one append: a crash keeps the record only with its marker
      writer.together(() => {
        const seq = writer.appendRecords([msg]);
        writer.appendCollector(
          "trunc",
          `seq=${seq} kept=${msg.length} received=${received} session=${flow.id}`,
        );
      });
      flow.truncated++;
    } else writer.appendRecords([msg]);
    flow.records++;
    const wait = policy.takeRate(origin, 1);
    if (wait > 0) flow.rateUntil = Date.now() + wait;
    policy.noteAppend(origin);
  }

  private drop(flow: Flow, reason: string): void {
    flow.dropped++;
    flow.reason = reason;
    this.droppedHere++;
  }

  /** Records the drops since the last report (collector and kernel), if any. */
  private reportDrops(): void {
    const kernel = this.source.kernelDrops();
    const kernelNew =
      kernel !== null && this.kernelDrops !== null ? Math.max(kernel - this.kernelDrops, 0) : 0;
    if (kernel !== null) this.kernelDrops = kernel;
    if (this.droppedHere === 0 && kernelNew === 0) return;
    this.host.event(`${this.config.transport}-dropped`, {
      listener: this.config.address,
      dropped: this.droppedHere,
      kernel: kernelNew,
    });
    this.droppedHere = 0;
  }

  /** Stops reading; each flow's `!close` (with a last `!gap` for what it dropped). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.startClosing();
    clearInterval(this.timer);
    // unix: the helper's pipe is read to its end, so what it had received is stored
    await this.source.close();
    this.closed = true;
    this.reportDrops();
    for (const [origin, flow] of this.flows) {
      const w = flow.writer;
      if (!w) continue;
      try {
        if (flow.dropped > 0)
          w.appendCollector("gap", `dropped=${flow.dropped} reason=${flow.reason} session=${flow.id}`);
        const truncated = this.source.canWait ? ` truncated=${flow.truncated}` : "";
        w.appendCollector("close", `session=${flow.id} records=${flow.records}${truncated} reason=shutdown`);
        this.host.policy.noteAppend(origin);
      } catch {
        // the store is closing
      }
    }
    await Promise.all([...this.flows.values()].map((f) => f.writer?.waitDurable().catch(() => {})));
  }
}
