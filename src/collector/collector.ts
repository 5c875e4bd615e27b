// The collector daemon: the one writer of a store. Listens on the relay socket (for `logward
// ingest`) and on any configured qrexec socket-service paths, turns each connection into a
// Session once its header (relay) or descriptor (qrexec) has arrived, and records its own
// events in the reserved origin `_logward`, stream `events`.
//
// Limits: a connection must send its header within headerTimeoutMs and at most 512 bytes of
// it; at most maxSessions sessions at once (the refusal is recorded); a session that sends
// nothing for firstByteTimeoutMs, or goes silent for idleTimeoutMs, is closed. One coarse
// timer checks all deadlines once a second.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { LogwardError } from "../errors.ts";
import { Alerts } from "../policy/alerts.ts";
import { Policy } from "../policy/engine.ts";
import { COLLECTOR_ORIGIN, isValidName } from "../store/names.ts";
import { Store } from "../store/store.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { FramingError } from "../wire/framer.ts";
import { MAX_DESCRIPTOR_BYTES, parseDescriptor } from "../wire/qrexec.ts";
import {
  encodeEnd,
  encodeFrame,
  type Format,
  FRAME_DATA,
  MAX_HEADER_BYTES,
  parseLocalHeader,
  parseRelayHeader,
} from "../wire/relay.ts";
import { ADMIN_MAGIC, parseRmRequest, type RmRequest, type RmResult, removeRecords } from "./admin.ts";
import { type CollectorConfig, loadConfig } from "./config.ts";
import { kvValue, Session, type SessionResult, type Transport } from "./session.ts";

/** Formats whose sender resumes from what the collector has durably stored. */
const RESUMABLE: readonly Format[] = ["journal", "agent"];
const UNIX_PATH_MAX = 107;

interface Pending {
  socket: Socket;
  since: number;
}

/**
 * What a listening socket is: the relay for `logward ingest` (origin in its header, written by
 * ingest from qrexec's environment), a qrexec socket service (origin in qrexec's descriptor),
 * or a local socket whose origin the admin configured (`[[collector.local]]`).
 */
type Listener =
  | { kind: "relay"; path: string }
  | { kind: "qrexec"; path: string }
  | { kind: "local"; path: string; origin: string };

/** Relay and local sockets wrap replies in relay frames; a qrexec socket service gets them bare. */
const framed = (l: Listener) => l.kind !== "qrexec";

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

export class Collector {
  config: CollectorConfig;
  policy!: Policy;
  private alerts!: Alerts;
  readonly store: Store;
  private readonly servers: Server[] = [];
  private readonly sessions = new Set<Session>();
  private readonly pending = new Set<Pending>();
  private events!: StreamWriter;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  private opening = 0;
  /** The live resumable session of each origin/stream, and the turn of the next one to open. */
  private readonly resumable = new Map<string, Session>();
  private readonly turns = new Map<string, Promise<void>>();

  private constructor(store: Store, config: CollectorConfig) {
    this.store = store;
    this.config = config;
    this.timer = setInterval(() => this.checkDeadlines(), 1000);
    this.timer.unref();
  }

  static async start(storeDir: string, config: CollectorConfig): Promise<Collector> {
    const store = await Store.open(storeDir, {
      maxSegmentBytes: config.segmentBytes,
      maxSegmentAgeMs: config.segmentAgeMs,
      maxRecordBytes: Math.max(config.maxRecordBytes, 64 * 1024),
      highWaterBytes: config.streamBufferBytes,
      hardLimitBytes: Math.max(config.streamBufferBytes * 8, 8 * config.maxRecordBytes),
    });
    const c = new Collector(store, config);
    try {
      c.events = await store.stream(COLLECTOR_ORIGIN, "events");
      store.on("warning", (err: Error) => c.event("warning", { message: err.message }));
      c.alerts = new Alerts(await store.stream(COLLECTOR_ORIGIN, "alerts"), config.policy.alertCommand);
      c.policy = await Policy.start(store, config.policy, c.alerts);
      await c.listen({ kind: "relay", path: config.socket }, 0o660);
      for (const path of config.qrexecSockets) await c.listen({ kind: "qrexec", path }, 0o660);
      for (const l of config.localSockets) await c.listen({ kind: "local", ...l }, l.mode);
      c.event("start", {
        pid: process.pid,
        socket: config.socket,
        qrexec: config.qrexecSockets.join(",") || "none",
      });
    } catch (err) {
      for (const s of c.servers) s.close();
      clearInterval(c.timer);
      await c.policy?.stop();
      await store.close();
      throw err;
    }
    return c;
  }

  /**
   * SIGHUP: reads the configuration again and applies its policy (quotas, groups, retention,
   * rates, alerts) without dropping a session. Listeners and limits stay as they started. A
   * bad file changes nothing and raises an alert.
   */
  reload(file: string | undefined): boolean {
    let next: CollectorConfig;
    try {
      next = loadConfig(this.store.root, file);
    } catch (err) {
      this.alerts.raise({
        kind: "reload-failed",
        message: `${(err as Error).message} The previous configuration stays in force.`,
      });
      return false;
    }
    this.config = {
      ...this.config,
      policy: next.policy,
      alertCommand: next.alertCommand,
      minFree: next.minFree,
    };
    this.policy.reload(next.policy);
    this.alerts.raise({ kind: "reload", message: `configuration ${file ?? "(defaults)"} reloaded` });
    return true;
  }

  /** Writes one of the collector's own events (key=value text) to `_logward/events`. */
  event(name: string, fields: Record<string, string | number>): void {
    const text = Object.entries(fields)
      .map(([k, v]) => `${k}=${kvValue(v)}`)
      .join(" ");
    try {
      this.events.appendCollector("note", `event=${name}${text ? ` ${text}` : ""}`);
    } catch {
      // the store is closing or failed: there is nowhere left to record it
    }
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private async listen(listener: Listener, mode: number): Promise<void> {
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
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) =>
      this.accept(socket, listener),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(new LogwardError("LW_LISTEN", `Cannot listen on ${path}: ${err.message}.`)),
      );
      server.listen(path, () => resolve());
    });
    chmodSync(path, mode);
    server.on("error", (err) => this.event("error", { listener: path, message: err.message }));
    this.servers.push(server);
  }

  /** Reads the header (relay) or descriptor (qrexec) and turns the connection into a session. */
  private accept(socket: Socket, listener: Listener): void {
    const kind = listener.kind;
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const entry: Pending = { socket, since: Date.now() };
    this.pending.add(entry);
    const terminator = kind === "qrexec" ? 0x00 : 0x0a;
    const limit = kind === "qrexec" ? MAX_DESCRIPTOR_BYTES : MAX_HEADER_BYTES;
    let head: Buffer = Buffer.alloc(0);
    // the sender may send everything and half-close before the session exists
    let endedEarly = false;
    const onEnd = () => {
      endedEarly = true;
    };
    socket.once("end", onEnd);
    const fail = (why: string) => {
      this.pending.delete(entry);
      this.event("refused", { transport: kind, reason: why });
      const last = framed(listener)
        ? encodeEnd({ ok: false, records: 0, bytes: 0, message: why })
        : Buffer.alloc(0);
      socket.end(last, () => socket.destroy());
    };
    const onData = (chunk: Buffer) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const at = head.indexOf(terminator);
      if (at === -1) {
        if (head.length > limit) {
          socket.off("data", onData);
          fail(`${kind === "qrexec" ? "descriptor" : "header"} longer than ${limit} bytes`);
        }
        return;
      }
      socket.off("data", onData);
      socket.pause();
      this.pending.delete(entry);
      const rest = head.subarray(at + 1);
      void this.open(socket, listener, head.subarray(0, at), rest, () => {
        socket.off("end", onEnd);
        return endedEarly;
      }).catch((err: Error) => fail(err.message));
    };
    socket.on("data", onData);
    socket.on("error", () => this.pending.delete(entry));
    socket.on("close", () => this.pending.delete(entry));
  }

  private async open(
    socket: Socket,
    listener: Listener,
    head: Buffer,
    rest: Buffer,
    takeEnded: () => boolean,
  ): Promise<void> {
    let origin: string;
    let stream: string;
    let format: Format;
    let transport: Transport;
    if (listener.kind === "relay" && head.toString("latin1", 0, ADMIN_MAGIC.length) === ADMIN_MAGIC) {
      await this.admin(socket, head.toString("latin1"));
      return;
    }
    if (listener.kind === "relay") {
      const h = parseRelayHeader(head.toString("latin1"));
      ({ origin, stream, format } = h);
      transport = "qrexec-exec";
    } else if (listener.kind === "local") {
      ({ stream, format } = parseLocalHeader(head.toString("latin1")));
      origin = listener.origin;
      transport = "local";
    } else {
      const d = parseDescriptor(head);
      origin = d.sourceDomain;
      stream = d.argument ?? "main";
      format = d.format;
      transport = "qrexec-socket";
    }
    if (!isValidName(origin)) throw new FramingError(`invalid origin name from the channel`);
    if (!isValidName(stream)) throw new FramingError(`invalid stream name from origin ${origin}`);
    // count sessions still opening too: opening awaits, and others may arrive meanwhile
    if (this.sessions.size + this.opening >= this.config.maxSessions) {
      throw new FramingError(
        `too many sessions (limit ${this.config.maxSessions}); origin ${origin} refused`,
      );
    }
    if (this.stopping) throw new FramingError("the collector is shutting down");
    this.opening++;
    const key = `${origin}/${stream}`;
    const resumable = RESUMABLE.includes(format);
    let release = () => {};
    let writer: StreamWriter;
    let resumeRef: string | null = null;
    try {
      writer = await this.policy.stream(origin, stream);
      if (resumable) {
        release = await this.takeTurn(key);
        resumeRef = await writer.durableRef();
      }
    } catch (err) {
      release();
      throw err;
    } finally {
      this.opening--;
    }
    const reply = (bytes: Buffer) => {
      if (socket.writableEnded || socket.destroyed) return;
      socket.write(framed(listener) ? encodeFrame(FRAME_DATA, bytes) : bytes);
    };
    const session = new Session(
      socket,
      writer,
      {
        origin,
        stream,
        format,
        transport,
        maxRecordBytes: this.config.maxRecordBytes,
        resumeRef,
        reply,
        policy: this.policy,
        maxBlobBytes: this.config.maxBlobBytes,
        framed: framed(listener),
        alert: (message) => this.alerts.raise({ kind: "blob-refused", origin, message }),
      },
      (s, r) => this.closed(s, r, listener),
    );
    this.sessions.add(session);
    if (resumable) this.resumable.set(key, session);
    release();
    session.start(rest, takeEnded());
    socket.resume();
  }

  /**
   * An admin request on the relay socket (`logward rm` while the collector runs). Only local
   * processes that may use the relay socket can send one: a sender's bytes always come after
   * a header that ingest or qrexec wrote.
   */
  private async admin(socket: Socket, line: string): Promise<void> {
    let result: RmResult;
    try {
      result = await this.remove(parseRmRequest(line));
    } catch (err) {
      const e = err as LogwardError;
      result = { ok: false, records: 0, bytes: 0, message: `${e.code ?? "LW_INTERNAL"} ${e.message}` };
    }
    socket.end(encodeEnd(result), () => socket.destroy());
  }

  /**
   * Deletes what `req` names and records it (`logward rm`, the web UI's delete). A stream with a
   * live session is not deleted (LW_BUSY).
   */
  async remove(req: RmRequest): Promise<RmResult> {
    const result = await removeRecords(this.store, this.policy, req, (o, st) =>
      this.liveStreams().has(`${o}/${st}`),
    );
    this.event("deleted", {
      origin: req.origin,
      stream: req.stream ?? "*",
      records: result.records,
      by: req.by,
    });
    return result;
  }

  /** Quota state and use of every origin now. */
  policySnapshot(): ReturnType<Policy["snapshot"]> {
    return this.policy.snapshot();
  }

  /** "origin/stream" of every stream a session is writing now. */
  liveStreams(): Set<string> {
    return new Set([...this.sessions].map((x) => `${x.opts.origin}/${x.opts.stream}`));
  }

  /**
   * One resumable session per origin/stream: a new one (the sender reconnected) ends the old
   * one first, and its resume point is read only after everything the old one sent is
   * durable. Newcomers queue; returns the function that lets the next one in.
   */
  private async takeTurn(key: string): Promise<() => void> {
    const before = this.turns.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chained = before.then(() => mine);
    this.turns.set(key, chained);
    void chained.then(() => {
      if (this.turns.get(key) === chained) this.turns.delete(key);
    });
    await before;
    const old = this.resumable.get(key);
    if (old) await old.end("replaced by a new session of the same origin and stream");
    return release;
  }

  private closed(session: Session, result: SessionResult, listener: Listener): void {
    this.sessions.delete(session);
    const key = `${session.opts.origin}/${session.opts.stream}`;
    if (this.resumable.get(key) === session) this.resumable.delete(key);
    const socket = session.socket;
    if (!socket.destroyed) {
      // the session is over either way: say so (relay), then close even if the peer never does
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
    if (!result.ok && result.reason !== "connection closed") {
      this.event("session-error", {
        session: session.id,
        origin: session.opts.origin,
        reason: result.reason,
      });
    }
  }

  private checkDeadlines(): void {
    const now = Date.now();
    for (const p of this.pending) {
      if (now - p.since > this.config.headerTimeoutMs) {
        this.pending.delete(p);
        this.event("refused", { reason: "no header in time" });
        p.socket.destroy();
      }
    }
    for (const s of this.sessions) {
      const limit = s.hasSentData ? this.config.idleTimeoutMs : this.config.firstByteTimeoutMs;
      if (now - s.lastActivity > limit) void s.end("timeout");
    }
  }

  /**
   * The store failed (a fatal I/O error): nothing more can become durable, so stop at once
   * instead of waiting for sessions to end. Listeners close, every connection is dropped (its
   * sender keeps whatever was not acknowledged), the store releases its lock. The process
   * should then exit non-zero, so that a supervisor restarts it and recovery reads the disk.
   */
  async abort(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    for (const s of this.servers) s.close();
    for (const p of this.pending) p.socket.destroy();
    for (const s of this.sessions) s.socket.destroy();
    await this.store.close().catch(() => {});
  }

  /** SIGTERM: stop accepting, end every session after what it sent is durable, close the store. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.timer);
    // close() stops accepting at once but reports only when every connection is gone
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const p of this.pending) p.socket.destroy();
    await Promise.all([...this.sessions].map((s) => s.end("shutdown")));
    await closed;
    await this.policy.stop();
    this.event("stop", { pid: process.pid });
    await this.store.close();
  }
}
