// `type = "logward"`: forwarding to another logward collector, exactly once (issue 19;
// docs/PROTOCOL.md, "Forwarding to another collector"). A log qube forwards to a second log
// qube or a central collector the way `logward ship` sends to it: the agent protocol over a
// command channel (`command = 'qrexec-client-vm central "logward.Agent+$LOGWARD_STREAM"'`) or
// over mutual TLS to the receiver's `[[listen]] protocol = "agent"` (`address`, `tls_cert`,
// `tls_key`, `tls_ca`: forward-tls.ts), one session per source stream (forward-session.ts), at
// most `sessions` at once. The TLS files are read when the destination is made (at start, and
// after each failure), so a renewed certificate is used from the next connection on.
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
import { readFile } from "node:fs/promises";
import { type Channel, viaChannel } from "../agent/channel.ts";
import { DEFAULT_LOGWARD_SESSIONS } from "../config/output-logward.ts";
import { LogwardError } from "../errors.ts";
import { isValidName, streamDir } from "../store/names.ts";
import type {
  Destination,
  DestinationFactory,
  DestinationHost,
  OutputConfig,
  OutRecord,
} from "./destination.ts";
import { ForwardSession, type SessionTarget } from "./forward-session.ts";
import { type TlsTarget, tlsChannel } from "./forward-tls.ts";

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

/** The options config/output-logward.ts returns for an output with `address`. */
interface TlsOptions {
  address: string;
  host: string;
  port: number;
  server_name: string | null;
  tls_cert: string;
  tls_key: string;
  tls_ca: string;
}

/** Reads the TLS files of an output; one that cannot be read is a sentence naming its key. */
async function tlsTarget(config: OutputConfig): Promise<TlsTarget> {
  const o = config.options as unknown as TlsOptions;
  const read = async (key: "tls_cert" | "tls_key" | "tls_ca") => {
    try {
      return await readFile(o[key]);
    } catch (err) {
      throw new LogwardError(
        "LW_CONFIG",
        `output ${config.name}: ${key} ${o[key]} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}).`,
      );
    }
  };
  const [cert, key, ca] = await Promise.all([read("tls_cert"), read("tls_key"), read("tls_ca")]);
  return {
    address: o.address,
    host: o.host,
    port: o.port,
    serverName: o.server_name,
    files: { cert, key, ca },
  };
}

class LogwardDestination implements Destination {
  private readonly config: OutputConfig;
  /** TLS: the target with its files, read once for this destination. */
  private tls: Promise<TlsTarget> | null = null;
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
    this.config = config;
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
        open: await this.opener(origin, stream, remote),
      });
    })();
    this.sessions.set(key, opening);
    return opening;
  }

  /** How a session of this output opens its channel: the command, or TLS to `address`. */
  private async opener(origin: string, stream: string, remote: string): Promise<SessionTarget["open"]> {
    if (this.config.options.address === undefined) {
      const command = this.config.command!;
      return (onReply): Channel =>
        viaChannel(command, onReply, {
          env: { LOGWARD_STREAM: remote, LOGWARD_ORIGIN: origin, LOGWARD_SOURCE_STREAM: stream },
          onStderr: (line) => this.host.log(`${origin}/${stream}: ${line}`),
        });
    }
    this.tls ??= tlsTarget(this.config);
    const target = await this.tls;
    return (onReply) => tlsChannel(target, onReply);
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
