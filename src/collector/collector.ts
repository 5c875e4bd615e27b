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
//
// The parts live beside it: listeners.ts (sockets, reading the header, who is calling),
// admission.ts (session limits, one resumable session per stream), repeats.ts (counting
// repeated events), own-events.ts (the store's options and the collector's own records),
// session.ts (one connection), admin.ts (`logward rm`), listen-start.ts with net-listeners.ts
// and datagram-listener.ts (`[[listen]]`: syslog and RELP over TCP, TLS, UDP, unix), listen-reload.ts,
// and the outputs, notify rules and sealer it starts (src/output, src/seal). What is left is one
// class (about 520 lines): starting, accepting, opening, reloading, closing and stopping share
// its sessions, pending connections, listeners and timer. The next part to move out is the
// SIGHUP reload (reload, reloadListen, reloadTls), once it takes a narrow host.

import type { Server, Socket } from "node:net";
import { loadConfig } from "../config/load.ts";
import type { CollectorConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import { notifyOutputs } from "../output/notify-rules.ts";
import { Outputs } from "../output/outputs.ts";
import { Alerts } from "../policy/alerts.ts";
import { Policy } from "../policy/engine.ts";
import { OwnRecords } from "../policy/own.ts";
import { Sealer, storeSeals } from "../seal/sealer.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { Store } from "../store/store.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { ADMIN_MAGIC, adminFailure, parseRmRequest, type RmRequest, type RmResult } from "../wire/admin.ts";
import { FramingError } from "../wire/framer.ts";
import { encodeEnd, encodeFrame, FRAME_DATA } from "../wire/relay.ts";
import { removeRecords } from "./admin.ts";
import { Admission, Refusal } from "./admission.ts";
import type { DatagramListener } from "./datagram-listener.ts";
import { DropCounts } from "./drop-counts.ts";
import { DropTally } from "./drop-tally.ts";
import type { SessionResult } from "./intake.ts";
import { reloadListeners } from "./listen-reload.ts";
import { type Started, startListeners } from "./listen-start.ts";
import {
  type Caller,
  framed,
  identify,
  type Listener,
  listenOn,
  readHead,
  sayEnded,
  sayRefused,
} from "./listeners.ts";
import type { NetListener } from "./net-listeners.ts";
import { alertStreamLimits, storeOptions, writeEvent } from "./own-events.ts";
import { RepeatedEvents } from "./repeats.ts";
import { Session } from "./session.ts";

/** Formats whose sender resumes from what the collector has durably stored. */
const RESUMABLE: readonly string[] = ["journal", "agent"];
/** How often `_logward`'s own retention runs. */
const OWN_RETENTION_EVERY_MS = 60_000;
/** Connections still owing their header, in all; past it the oldest is closed (a flood of
 * silent connections evicts itself: a sender's header follows its connect at once). */
export const MAX_PENDING_CONNECTIONS = 512;

/** A connection whose header has not arrived yet. */
interface Pending {
  socket: Socket;
  since: number;
  transport: Listener["kind"];
}

export class Collector {
  config: CollectorConfig;
  policy!: Policy;
  private alerts!: Alerts;
  readonly store: Store;
  private readonly servers: Server[] = [];
  /** `[[listen]]` listeners (listen-start.ts); TCP and TLS ones are in `servers` too. */
  private readonly net: NetListener[] = [];
  private readonly datagrams: DatagramListener[] = [];
  private readonly sessions = new Set<Session>();
  private readonly pending = new Set<Pending>();
  private events!: StreamWriter;
  /** The deadline clock; started once `start()` has built everything it looks at. */
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly admission: Admission;
  private readonly repeats = new RepeatedEvents(
    (name, fields) => this.event(name, fields),
    (a) => this.alerts.raise(a),
    (name, origin, kind, fields) => this.drops?.counted(name, origin, kind, fields),
  );
  /** What was dropped or refused, per origin and listener, kept in run/drops.json (drop-counts.ts). */
  private drops!: DropTally;
  private own!: OwnRecords;
  private ownAt = 0;
  /** Seals every stream each `[seal] interval` when the store has a sealing key (src/seal). */
  private sealer: Sealer | null = null;
  /** `[[output]]`s: read the store from their own cursors and send it on (src/output). */
  private outputs: Outputs | null = null;
  /** The `[[listen]]` reload in progress (listen-reload.ts), so that reloads run one after another. */
  private listenReloading: Promise<void> = Promise.resolve();

  private constructor(store: Store, config: CollectorConfig) {
    this.store = store;
    this.config = config;
    this.admission = new Admission(config);
  }

  static async start(storeDir: string, config: CollectorConfig): Promise<Collector> {
    const store = await Store.open(storeDir, { ...storeOptions(config), seal: await storeSeals(storeDir) });
    const c = new Collector(store, config);
    try {
      c.drops = new DropTally(DropCounts.load(store.root), () => c.config.listen);
      c.events = await store.stream(COLLECTOR_ORIGIN, "events");
      store.on("warning", (err: Error) => c.event("warning", { message: err.message }));
      c.alerts = new Alerts(await store.stream(COLLECTOR_ORIGIN, "alerts"), config.policy.alertCommand);
      // a new stream over max_streams_per_origin is refused (LW_STREAM_LIMIT): alert once a minute per origin
      alertStreamLimits(store, c.alerts);
      c.policy = await Policy.start(store, config.policy, c.alerts);
      c.own = new OwnRecords(store, c.alerts, {
        quotaBytes: config.ownQuotaBytes,
        retentionMs: config.ownRetentionMs,
        deletionsWarnBytes: config.deletionsWarnBytes,
      });
      await c.own.run();
      c.ownAt = Date.now();
      // not in the constructor: on a busy machine opening the store can take over a second, and
      // the first tick would find no OwnRecords yet (a crash at start-up)
      c.timer = setInterval(() => c.checkDeadlines(), 1000);
      c.timer.unref();
      c.sealer = await Sealer.start(store, {
        intervalMs: config.sealIntervalMs,
        checkpointCommand: config.sealCheckpointCommand,
        onProblem: (what, message) => c.event(what, { message }),
      });
      // outputs start before any session: what is on disk then is durable (output/durable-gate.ts)
      // `[[notify]]` rules run there too, as outputs of their own (output/notify-rules.ts)
      c.outputs = new Outputs(storeDir, {
        log: (m) => process.stderr.write(`logward: ${m}\n`),
        raise: (origin, message) => c.alerts.raise({ kind: "notify", origin, message }),
      });
      store.on("durable", (w: StreamWriter) => c.outputs?.noteDurable(w.origin, w.stream, w.durableSeq));
      await c.outputs.apply([...config.outputs, ...notifyOutputs(config.notify)]);
      await c.listen({ kind: "relay", path: config.socket }, 0o660);
      for (const path of config.qrexecSockets) await c.listen({ kind: "qrexec", path }, 0o660);
      for (const l of config.localSockets) await c.listen({ kind: "local", ...l }, l.mode);
      await c.startListen();
      c.event("start", {
        pid: process.pid,
        socket: config.socket,
        qrexec: config.qrexecSockets.join(",") || "none",
      });
    } catch (err) {
      for (const s of c.servers) s.close();
      for (const d of c.datagrams) await d.close();
      clearInterval(c.timer);
      await c.outputs?.close();
      await c.policy?.stop();
      await store.close();
      throw err;
    }
    return c;
  }

  /**
   * SIGHUP: reads the configuration again and applies its policy (quotas, groups, retention,
   * rates, alerts), `[[listen]]` (listen-reload.ts), `[[output]]`s and `[viewers]` without
   * dropping a session. Sockets of [collector] and the limits stay as they started. A bad file
   * changes nothing, says so in one sentence and raises an alert.
   */
  reload(file: string | undefined): boolean {
    let next: CollectorConfig;
    try {
      next = loadConfig(this.store.root, file);
    } catch (err) {
      // one sentence in the collector's log too: whoever sent the SIGHUP reads it there
      process.stderr.write(`logward: reload refused: ${(err as Error).message}\n`);
      this.alerts.raise({
        kind: "reload-failed",
        message: `${(err as Error).message} The previous configuration stays in force.`,
      });
      return false;
    }
    this.config = {
      ...this.config,
      policy: next.policy,
      outputs: next.outputs,
      listen: next.listen,
      viewers: next.viewers,
      notify: next.notify,
    };
    void this.outputs?.apply([...next.outputs, ...notifyOutputs(next.notify)]);
    this.alerts.setCommand(next.policy.alertCommand);
    this.reloadTls();
    void this.reloadListen(next.listen);
    this.policy.reload(next.policy);
    this.alerts.raise({ kind: "reload", message: `configuration ${file ?? "(defaults)"} reloaded` });
    return true;
  }

  /** Writes one of the collector's own events (key=value text) to `_logward/events`. */
  event(name: string, fields: Record<string, string | number>): void {
    this.drops?.dropped(name, fields);
    writeEvent(this.events, name, fields);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private async listen(listener: Listener, mode: number): Promise<void> {
    const server = await listenOn(
      listener,
      mode,
      (socket) => this.accept(socket, listener),
      (err) => this.event("error", { listener: listener.path, message: err.message }),
    );
    this.servers.push(server);
  }

  /** Reads the header (relay) or descriptor (qrexec) and turns the connection into a session. */
  private accept(socket: Socket, listener: Listener): void {
    const kind = listener.kind;
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.pending.size >= MAX_PENDING_CONNECTIONS) this.dropOldestPending();
    const entry: Pending = { socket, since: Date.now(), transport: kind };
    this.pending.add(entry);
    const fail = (why: string, refusal = "bad-header", origin: string | null = null) => {
      this.pending.delete(entry);
      this.repeats.note("refused", origin ?? "-", `${refusal}/${kind}`, {
        transport: kind,
        ...(origin === null ? {} : { origin }),
        kind: refusal,
        reason: why,
      });
      sayRefused(socket, listener, why);
    };
    readHead(
      socket,
      listener,
      (head, rest, takeEnded) => {
        this.pending.delete(entry);
        void this.open(socket, listener, head, rest, takeEnded).catch((err: Error) =>
          err instanceof Refusal
            ? fail(err.message, err.kind, err.origin)
            : fail(err.message, err instanceof FramingError ? "bad-header" : "error"),
        );
      },
      (why) => fail(why),
    );
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
    if (listener.kind === "relay" && head.toString("latin1", 0, ADMIN_MAGIC.length) === ADMIN_MAGIC) {
      await this.admin(socket, head.toString("latin1"));
      return;
    }
    await this.begin(socket, listener, identify(listener, head), rest, takeEnded);
  }

  /** Admits `caller`'s connection, opens its stream and starts its session. */
  private async begin(
    socket: Socket,
    listener: Listener,
    caller: Caller,
    rest: Buffer,
    takeEnded: () => boolean,
  ): Promise<void> {
    const { origin, stream, format, transport } = caller;
    const key = `${origin}/${stream}`;
    const resumable = RESUMABLE.includes(format);
    this.admission.admit(origin, key, resumable, this.sessions.size, this.stopping, (o) =>
      this.policy.blocked(o),
    );
    let release = () => {};
    let writer: StreamWriter;
    let resumeRef: string | null = null;
    try {
      writer = await this.store.stream(origin, stream);
      this.policy.track(writer);
      if (resumable) {
        release = await this.admission.takeTurn(key);
        resumeRef = await writer.durableRef();
      }
    } catch (err) {
      release();
      this.admission.left(origin);
      // a store refusal (a limit, a bad name): counted with the origin's other refusals
      throw err instanceof LogwardError ? new Refusal(err.code, origin, err.message) : err;
    } finally {
      this.admission.opened();
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
        intake: caller.intake,
        alert: (message) => this.repeats.alert(origin, message),
      },
      (s, r) => this.closed(s, r, listener),
    );
    this.sessions.add(session);
    if (resumable) this.admission.resumable.set(key, session);
    release();
    session.start(rest, takeEnded()); // it resumes the socket unless it must hold
  }

  /** Starts `[[listen]]` listeners (listen-start.ts); their connections are sessions. */
  private async startListen(
    configs = this.config.listen,
    into: Started = { net: this.net, datagrams: this.datagrams, servers: this.servers },
  ): Promise<void> {
    await startListeners(
      configs,
      {
        begin: (socket, listener, caller) =>
          this.begin(socket, listener, caller, Buffer.alloc(0), () => false),
        repeats: this.repeats,
        store: this.store,
        policy: this.policy,
        event: (name, fields) => this.event(name, fields),
        stopping: () => this.stopping,
        maxRecordBytes: this.config.maxRecordBytes,
      },
      into,
    );
  }

  /** SIGHUP: listeners added start, removed ones stop accepting (their connections go on). */
  private reloadListen(next: CollectorConfig["listen"]): Promise<void> {
    // one reload at a time: two quick SIGHUPs must not both close and start the same listener
    this.listenReloading = this.listenReloading.then(() => this.reloadListenNow(next));
    return this.listenReloading;
  }

  private async reloadListenNow(next: CollectorConfig["listen"]): Promise<void> {
    await reloadListeners(
      next,
      { net: this.net, datagrams: this.datagrams, servers: this.servers },
      (configs, into) => this.startListen(configs, into),
      (message) => {
        process.stderr.write(`logward: reload: ${message}\n`);
        this.alerts.raise({ kind: "reload-failed", message });
      },
    );
  }

  /** SIGHUP: TLS listeners read their certificate, key and CA again; a bad file keeps the old. */
  private reloadTls(): void {
    for (const n of this.net) {
      try {
        n.reload();
      } catch (err) {
        this.alerts.raise({
          kind: "reload-failed",
          message: `${(err as Error).message} The listener keeps its previous certificate.`,
        });
      }
    }
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

  private closed(session: Session, result: SessionResult, listener: Listener): void {
    this.sessions.delete(session);
    this.admission.left(session.opts.origin);
    const key = `${session.opts.origin}/${session.opts.stream}`;
    if (this.admission.resumable.get(key) === session) this.admission.resumable.delete(key);
    sayEnded(session.socket, listener, result);
    if (!result.ok && result.reason !== "connection closed") {
      this.repeats.note("session-error", session.opts.origin, "session-error", {
        session: session.id,
        origin: session.opts.origin,
        reason: result.reason,
      });
    }
  }

  private dropOldestPending(): void {
    const oldest = this.pending.values().next().value;
    if (!oldest) return;
    this.pending.delete(oldest);
    this.repeats.note("refused", "-", `too-many-pending/${oldest.transport}`, {
      transport: oldest.transport,
      kind: "too-many-pending",
      reason: `over ${MAX_PENDING_CONNECTIONS} connections without a header`,
    });
    oldest.socket.destroy();
  }

  private checkDeadlines(): void {
    const now = Date.now();
    for (const p of this.pending) {
      if (now - p.since > this.config.headerTimeoutMs) {
        this.pending.delete(p);
        this.repeats.note("refused", "-", `no-header/${p.transport}`, {
          transport: p.transport,
          kind: "no-header",
          reason: "no header in time",
        });
        p.socket.destroy();
      }
    }
    this.repeats.flush(false);
    this.drops.tick(this.alerts);
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
    for (const d of this.datagrams) void d.close();
    for (const p of this.pending) p.socket.destroy();
    for (const s of this.sessions) s.socket.destroy();
    await this.outputs?.close().catch(() => {});
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
    await Promise.all([
      ...[...this.sessions].map((s) => s.end("shutdown")),
      ...this.datagrams.map((d) => d.close()),
    ]);
    await closed;
    await this.outputs?.close();
    await this.policy.stop();
    await this.own.idle();
    this.repeats.flush(true);
    this.drops.tick(this.alerts);
    await this.drops.counts.save();
    this.event("stop", { pid: process.pid });
    await this.sealer?.stop(); // the last seal of every stream covers the stop event too
    await this.store.close();
  }
}
