// The collector daemon: the one writer of a store. Listens on the relay socket (for `logward
// ingest`) and on any configured qrexec socket-service paths, turns each connection into a
// Session once its header (relay) or descriptor (qrexec) has arrived, and records its own
// events in the reserved origin `_logward`, stream `events`.
//
// Limits: a connection must send its header within headerTimeoutMs and at most 512 bytes of
// it; at most maxSessions sessions at once, and maxSessionsPerOrigin of one origin (idle ones
// count), so one origin cannot take every slot; a session that sends nothing for
// firstByteTimeoutMs, or goes silent for idleTimeoutMs, is closed. One coarse timer checks all
// deadlines once a second. A refusal is answered (relay: an `E` frame) and recorded, but what
// a sender can repeat at will (refusals, session errors) is recorded once per origin and kind
// a minute, with a count, so a flood cannot grow `_logward/events`.

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { loadConfig } from "../config/load.ts";
import type { CollectorConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import { Alerts } from "../policy/alerts.ts";
import { Policy } from "../policy/engine.ts";
import { OwnRecords } from "../policy/own.ts";
import { kvValue } from "../store/kv.ts";
import { COLLECTOR_ORIGIN, isValidName } from "../store/names.ts";
import { Store } from "../store/store.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { ADMIN_MAGIC, adminFailure, parseRmRequest, type RmRequest, type RmResult } from "../wire/admin.ts";
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
import { removeRecords } from "./admin.ts";
import type { SessionResult } from "./intake.ts";
import { Session, type Transport } from "./session.ts";

/** Formats whose sender resumes from what the collector has durably stored. */
const RESUMABLE: readonly Format[] = ["journal", "agent"];
const UNIX_PATH_MAX = 107;

interface Pending {
  socket: Socket;
  since: number;
  transport: Listener["kind"];
}

/** A connection turned away before it became a session; `kind` groups repeats of it. */
class Refusal extends Error {
  readonly kind: string;
  readonly origin: string | null;
  constructor(kind: string, origin: string | null, message: string) {
    super(message);
    this.kind = kind;
    this.origin = origin;
  }
}

/** Events of one origin and kind written in full once per window; the rest only counted. */
const REPEAT_WINDOW_MS = 60_000;
/** Origin/kind pairs counted at once; beyond, repeats are counted under origin "*". */
const MAX_REPEAT_KEYS = 1024;
/** How often `_logward`'s own retention runs. */
const OWN_RETENTION_EVERY_MS = 60_000;

interface Repeat {
  name: string;
  since: number;
  count: number;
  fields: Record<string, string | number>;
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
  /** Sessions of each origin, open or opening. */
  private readonly perOrigin = new Map<string, number>();
  /** Repeatable events of the current window, by name|origin|kind. */
  private readonly repeats = new Map<string, Repeat>();
  private own!: OwnRecords;
  private ownAt = 0;

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
      maxOpenStreams: config.maxOpenStreams,
      maxStreamsPerOrigin: config.maxStreamsPerOrigin,
    });
    const c = new Collector(store, config);
    try {
      c.events = await store.stream(COLLECTOR_ORIGIN, "events");
      store.on("warning", (err: Error) => c.event("warning", { message: err.message }));
      c.alerts = new Alerts(await store.stream(COLLECTOR_ORIGIN, "alerts"), config.policy.alertCommand);
      // a new stream over max_streams_per_origin is refused (LW_STREAM_LIMIT): alert once a minute per origin
      const limitAlerted = new Map<string, number>();
      store.on("stream-limit", ({ origin, limit }: { origin: string; limit: number }) => {
        const now = Date.now();
        if (now - (limitAlerted.get(origin) ?? 0) < 60_000) return;
        limitAlerted.set(origin, now);
        c.alerts.raise({
          kind: "stream-limit",
          origin,
          message: `${origin} has ${limit} streams, its limit ([collector] max_streams_per_origin); sessions that would open another one are refused`,
        });
      });
      c.policy = await Policy.start(store, config.policy, c.alerts);
      c.own = new OwnRecords(store, c.alerts, {
        quotaBytes: config.ownQuotaBytes,
        retentionMs: config.ownRetentionMs,
        deletionsWarnBytes: config.deletionsWarnBytes,
      });
      await c.own.run();
      c.ownAt = Date.now();
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
    };
    this.alerts.setCommand(next.policy.alertCommand);
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

  /**
   * An event a sender can cause over and over (a refusal, a session's error): the first of its
   * origin and kind in a minute is written at once, the others only counted, and when the
   * minute is over one record with `repeated=N since=T` sums them (and has the last one's
   * fields). So a flood adds at most two records per origin and kind a minute.
   */
  private repeatable(
    name: string,
    origin: string,
    kind: string,
    fields: Record<string, string | number>,
  ): void {
    let key = `${name}|${origin}|${kind}`;
    let f = fields;
    if (!this.repeats.has(key) && this.repeats.size >= MAX_REPEAT_KEYS) {
      key = `${name}|*|${kind}`;
      f = { ...fields, origin: "*" };
    }
    const r = this.repeats.get(key);
    if (r) {
      r.count++;
      r.fields = f;
      return;
    }
    this.repeats.set(key, { name, since: Date.now(), count: 0, fields: f });
    this.event(name, f);
  }

  /**
   * A blob-refused alert, which a sender can cause at will: the first of an origin in a minute
   * is raised, the others counted, and when the minute is over one more alert says how many.
   */
  private repeatAlert(origin: string, message: string): void {
    const key = this.repeats.size >= MAX_REPEAT_KEYS ? "alert|*" : `alert|${origin}`;
    const r = this.repeats.get(key);
    if (r) {
      r.count++;
      r.fields = { origin, message };
      return;
    }
    this.repeats.set(key, { name: "alert", since: Date.now(), count: 0, fields: { origin, message } });
    this.alerts.raise({ kind: "blob-refused", origin, message });
  }

  /** Writes the counts of the windows that are over (all of them when `all`). */
  private flushRepeats(all: boolean): void {
    const now = Date.now();
    for (const [key, r] of this.repeats) {
      if (!all && now - r.since < REPEAT_WINDOW_MS) continue;
      this.repeats.delete(key);
      if (r.count === 0) continue;
      if (r.name === "alert") {
        const { origin, message } = r.fields as { origin: string; message: string };
        this.alerts.raise({
          kind: "blob-refused",
          ...(key === "alert|*" ? {} : { origin }),
          message: `${message} (and ${r.count} more like it since ${new Date(r.since).toISOString()})`,
        });
        continue;
      }
      const { reason, ...rest } = r.fields;
      this.event(r.name, {
        ...rest,
        repeated: r.count,
        since: new Date(r.since).toISOString(),
        ...(reason === undefined ? {} : { reason }),
      });
    }
  }

  /** A session of `origin` (open or opening) is gone. */
  private leave(origin: string): void {
    const n = (this.perOrigin.get(origin) ?? 1) - 1;
    if (n > 0) this.perOrigin.set(origin, n);
    else this.perOrigin.delete(origin);
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
    const entry: Pending = { socket, since: Date.now(), transport: kind };
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
    const fail = (why: string, refusal = "bad-header", origin: string | null = null) => {
      this.pending.delete(entry);
      this.repeatable("refused", origin ?? "-", `${refusal}/${kind}`, {
        transport: kind,
        ...(origin === null ? {} : { origin }),
        kind: refusal,
        reason: why,
      });
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
      }).catch((err: Error) =>
        err instanceof Refusal
          ? fail(err.message, err.kind, err.origin)
          : fail(err.message, err instanceof FramingError ? "bad-header" : "error"),
      );
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
    const key = `${origin}/${stream}`;
    const resumable = RESUMABLE.includes(format);
    // an origin's own cap first (idle sessions count): one origin cannot take every slot; a
    // sender reconnecting a resumable stream replaces its old session, so that one is not counted
    const mine = this.perOrigin.get(origin) ?? 0;
    const replaces = resumable && this.resumable.has(key) ? 1 : 0;
    if (mine - replaces >= this.config.maxSessionsPerOrigin) {
      throw new Refusal(
        "origin-sessions",
        origin,
        `too many sessions from origin ${origin} (limit ${this.config.maxSessionsPerOrigin} per origin)`,
      );
    }
    // count sessions still opening too: opening awaits, and others may arrive meanwhile
    if (this.sessions.size + this.opening >= this.config.maxSessions) {
      throw new Refusal(
        "too-many-sessions",
        origin,
        `too many sessions (limit ${this.config.maxSessions}); origin ${origin} refused`,
      );
    }
    if (this.stopping) throw new Refusal("shutdown", origin, "the collector is shutting down");
    // even an empty session writes its !open and !close: none while the origin may not write
    if (this.policy.blocked(origin)) {
      throw new Refusal(
        "blocked",
        origin,
        `the collector takes nothing from origin ${origin} now (its quota with on_quota = "refuse", or the disk reserve); the sender should keep its records and try again later`,
      );
    }
    this.perOrigin.set(origin, mine + 1);
    this.opening++;
    let release = () => {};
    let writer: StreamWriter;
    let resumeRef: string | null = null;
    try {
      writer = await this.store.stream(origin, stream);
      this.policy.track(writer);
      if (resumable) {
        release = await this.takeTurn(key);
        resumeRef = await writer.durableRef();
      }
    } catch (err) {
      release();
      this.leave(origin);
      // a store refusal (a limit, a bad name): counted with the origin's other refusals
      throw err instanceof LogwardError ? new Refusal(err.code, origin, err.message) : err;
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
        alert: (message) => this.repeatAlert(origin, message),
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
      result = adminFailure(err);
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
    this.leave(session.opts.origin);
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
      this.repeatable("session-error", session.opts.origin, "session-error", {
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
        this.repeatable("refused", "-", `no-header/${p.transport}`, {
          transport: p.transport,
          kind: "no-header",
          reason: "no header in time",
        });
        p.socket.destroy();
      }
    }
    this.flushRepeats(false);
    if (now - this.ownAt >= OWN_RETENTION_EVERY_MS) {
      this.ownAt = now;
      void this.own.run();
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
    await this.own.idle();
    this.flushRepeats(true);
    this.event("stop", { pid: process.pid });
    await this.store.close();
  }
}
