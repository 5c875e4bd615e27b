// `type = "logward"`: forwarding to another logward collector, exactly once (issue 19;
// docs/PROTOCOL.md, "Forwarding to another collector"). A log qube forwards to a second log
// qube or a central collector the way `logward ship` sends to it: the agent protocol over a
// command channel
// (`command = 'qrexec-client-vm central "logward.Agent+$LOGWARD_STREAM"'`), one session per
// source stream (forward-session.ts), at most `sessions` at once.
//
// Identity at the receiver. The receiving collector names the origin from the channel: that is
// this collector (the forwarding log qube), never what it forwards, as for any sender. So the
// source's origin and stream become the receiver's stream name, `<origin>.<stream>` (a `.` in
// the origin doubled, so `a.b`+`c` and `a`+`b.c` stay apart), the source seq is the agent seq
// (stored at the receiver as the resume reference `@<spool>:<seq>`), and the spool id names the
// source stream and its incarnation (the stream directory's birth time: a stream deleted and
// made again numbers from 1 again, and must not look like records the receiver holds). The
// receiver's receive time is its own clock, as for every record it stores. A source stream
// whose name cannot be made so (the collector's own `_logward`, whose name starts with `_`, or
// a result over 64 characters) is not forwarded, and the output's log says so once.

import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { DEFAULT_LOGWARD_SESSIONS } from "../config/output-logward.ts";
import { isValidName, streamDir } from "../store/names.ts";
import type {
  Destination,
  DestinationFactory,
  DestinationHost,
  OutputConfig,
  OutRecord,
} from "./destination.ts";
import { ForwardSession } from "./forward-session.ts";

/** Sessions at once by default: the receiver allows 16 per origin (max_sessions_per_origin). */
export const DEFAULT_FORWARD_SESSIONS = DEFAULT_LOGWARD_SESSIONS;
/** A session with nothing to send for this long is ended (the receiver then notes its !close). */
const IDLE_MS = 60_000;
const CLOSE_GRACE_MS = 5_000;

/** The receiving collector's stream for a source stream, or null when there is no valid one. */
export function remoteStreamName(origin: string, stream: string): string | null {
  const name = `${origin.replaceAll(".", "..")}.${stream}`;
  return isValidName(name) ? name : null;
}

/** The agent spool id of a source stream: its names and the birth of its directory, hashed. */
export function spoolIdFor(store: string, origin: string, stream: string): string {
  let birth = "";
  try {
    birth = String(statSync(streamDir(store, origin, stream), { bigint: true }).birthtimeNs);
  } catch {
    // no birth time here: the names alone (a deleted and remade stream is then not told apart)
  }
  const hash = createHash("sha256").update(`${origin}/${stream}/${birth}`).digest("hex");
  return `fwd-${hash.slice(0, 32)}`;
}

class LogwardDestination implements Destination {
  private readonly command: string;
  private readonly maxSessions: number;
  private readonly host: DestinationHost;
  /** Source "origin/stream" -> its session (a promise: two batches never open two sessions). */
  private readonly sessions = new Map<string, Promise<ForwardSession>>();
  private readonly unnamed = new Set<string>();
  /** The last deliver()'s promise: each resolves only after the one before (the contract). */
  private chain: Promise<void> = Promise.resolve();
  private readonly idleTimer: NodeJS.Timeout;
  private closed = false;

  constructor(config: OutputConfig, host: DestinationHost) {
    this.command = config.command!;
    this.maxSessions = (config.options.sessions as number | undefined) ?? DEFAULT_FORWARD_SESSIONS;
    this.host = host;
    this.idleTimer = setInterval(() => void this.endIdle(), IDLE_MS / 4);
    this.idleTimer.unref();
  }

  deliver(batch: readonly OutRecord[]): Promise<void> {
    const own = this.send(batch);
    const done = Promise.all([this.chain, own]).then(() => {});
    done.catch(() => {});
    this.chain = done;
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close(CLOSE_GRACE_MS)).catch(() => {})));
  }

  private async send(batch: readonly OutRecord[]): Promise<void> {
    const groups = new Map<string, OutRecord[]>();
    for (const r of batch) {
      const key = `${r.origin}/${r.stream}`;
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
    const acks: Promise<void>[] = [];
    for (const [key, records] of groups) {
      const first = records[0]!;
      const remote = remoteStreamName(first.origin, first.stream);
      if (remote === null) {
        if (!this.unnamed.has(key)) {
          this.unnamed.add(key);
          this.host.log(
            `${key} is not forwarded: '${first.origin}.${first.stream}' is not a valid stream name at the receiver (leave it out with match)`,
          );
        }
        continue;
      }
      const session = await this.session(key, first.origin, first.stream, remote);
      acks.push(session.send(records));
    }
    await Promise.all(acks);
  }

  /** The live session of a source stream, opened (and another one ended for room) if need be. */
  private session(key: string, origin: string, stream: string, remote: string): Promise<ForwardSession> {
    const have = this.sessions.get(key);
    if (have) {
      // a session that broke while it had nothing outstanding is replaced quietly: the next
      // welcome says where to go on; one that broke with records in flight failed its deliver()
      return have.then((s) => (s.failure && s.idle ? this.reopen(key, origin, stream, remote) : s));
    }
    return this.reopen(key, origin, stream, remote);
  }

  private reopen(key: string, origin: string, stream: string, remote: string): Promise<ForwardSession> {
    if (this.closed) return Promise.reject(new Error("the output is stopping"));
    const opening = (async () => {
      await this.makeRoom(key);
      return new ForwardSession({
        origin,
        stream,
        remoteStream: remote,
        spool: spoolIdFor(this.host.store, origin, stream),
        command: this.command,
        log: (m) => this.host.log(m),
      });
    })();
    this.sessions.set(key, opening);
    return opening;
  }

  /** Ends the least recently used other session once it is idle, while there are too many. */
  private async makeRoom(key: string): Promise<void> {
    while ([...this.sessions.keys()].filter((k) => k !== key).length >= this.maxSessions) {
      let victim: [string, ForwardSession] | null = null;
      for (const [k, p] of this.sessions) {
        if (k === key) continue;
        const s = await p;
        if (!victim || s.lastUsed < victim[1].lastUsed) victim = [k, s];
      }
      if (!victim) return;
      const [k, s] = victim;
      // its outstanding records are acknowledged first (or fail their own deliver())
      while (!s.idle && !s.failure) await new Promise((r) => setTimeout(r, 20));
      if (this.sessions.get(k) !== undefined) this.sessions.delete(k);
      await s.close(CLOSE_GRACE_MS);
    }
  }

  private async endIdle(): Promise<void> {
    const now = Date.now();
    for (const [k, p] of this.sessions) {
      const s = await p.catch(() => null);
      if (s?.idle && now - s.lastUsed > IDLE_MS && this.sessions.get(k) === p) {
        this.sessions.delete(k);
        void s.close(CLOSE_GRACE_MS);
      }
    }
  }
}

export const createDestination: DestinationFactory = (config, host) => new LogwardDestination(config, host);
