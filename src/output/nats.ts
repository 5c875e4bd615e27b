// The `nats` output type: every record published to a NATS JetStream stream with the official
// client (@nats-io/transport-node, @nats-io/jetstream), so that consumers scale out beyond one
// collector (docs/SCALING.md).
//
//   subject   logward.<origin>.<stream>, a `.` inside a name written %2E (NATS splits subjects
//             at dots; `%` is in no valid name, so the mapping is one to one)
//   payload   the sender's raw bytes (the stored payload unescaped), as `show --raw` gives them
//   headers   Nats-Msg-Id: <origin>/<stream>/<seq>, and Logward-Origin, Logward-Stream,
//             Logward-Seq, Logward-Time (the receive time as stored), Logward-Kind
//
// Exactly once: deliver() resolves only when JetStream acknowledged every publish of the batch
// (the message is stored); only then does the runner move its cursor. A record is published
// again only after a failure (no ack: the server died, the connection broke, a timeout), and
// two things keep the copy out of the stream: JetStream drops a Nats-Msg-Id it has seen within
// the stream's duplicate window, and before a destination first publishes to a subject it asks
// JetStream for the last message stored on it (one request) and skips the records at or before
// that one's Logward-Seq and Logward-Time, which covers an outage longer than the window. (The
// time check keeps a store made anew, whose seqs start again at 1, from being skipped.)
//
// Credentials (docs/OUTPUTS.md): a .creds file (a user JWT and nkey seed, read again at each
// connection, so a rotated file is picked up), a user and password, or a token; never in a
// message. A server that refuses them fails the connection: the runner keeps the records and
// the error in the output's state, and tries again after its backoff.
//
// The stream is created when absent: subjects `logward.>`, file storage, the configured
// duplicate window. An existing stream is used as it is.

import { readFile } from "node:fs/promises";
import type { JetStreamClient, JetStreamManager, PubAck } from "@nats-io/jetstream";
import { jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { type ConnectionOptions, connect, credsAuthenticator, headers, nanos } from "@nats-io/transport-node";
import { unescapePayload } from "../store/escape.ts";
import type {
  Destination,
  DestinationFactory,
  DestinationHost,
  OutputConfig,
  OutRecord,
} from "./destination.ts";

/** The subject prefix: every logward subject is logward.<origin>.<stream>. */
export const SUBJECT_PREFIX = "logward";
/** How long a publish waits for JetStream's ack before the batch fails and is sent again. */
const PUBLISH_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

interface NatsOptions {
  servers: string[];
  jetstream_stream: string;
  duplicate_window_ms: number;
  tls_ca: string | null;
  tls_cert: string | null;
  tls_key: string | null;
  nats_creds: string | null;
  nats_user: string | null;
  nats_password: string | null;
  nats_token: string | null;
}

/** The connection's credentials, from the options (nats_creds read now). */
async function credentials(o: NatsOptions): Promise<Partial<ConnectionOptions>> {
  if (o.nats_creds) {
    let creds: Uint8Array;
    try {
      creds = await readFile(o.nats_creds);
    } catch (err) {
      throw new Error(`nats_creds ${o.nats_creds} cannot be read (${(err as NodeJS.ErrnoException).code})`);
    }
    return { authenticator: credsAuthenticator(creds) };
  }
  if (o.nats_user !== null && o.nats_user !== undefined)
    return { user: o.nats_user, pass: o.nats_password ?? "" };
  if (o.nats_token) return { token: o.nats_token };
  return {};
}

/** One subject token of a name: `.` would split it, so it is written %2E. */
function token(name: string): string {
  return name.replaceAll(".", "%2E");
}

/** The subject a stream's records are published on. */
export function subjectOf(origin: string, stream: string): string {
  return `${SUBJECT_PREFIX}.${token(origin)}.${token(stream)}`;
}

/** The Nats-Msg-Id of a record: its identity in the store. */
export function msgIdOf(r: { origin: string; stream: string; seq: number }): string {
  return `${r.origin}/${r.stream}/${r.seq}`;
}

interface Session {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Rejects when the connection ends: the publishes waiting for acks fail at once. */
  lost: Promise<never>;
}

/** Where a subject stands in JetStream: its last stored record's seq and time. */
interface Stored {
  seq: number;
  time: string;
}

export class NatsDestination implements Destination {
  private readonly config: OutputConfig;
  private readonly opts: NatsOptions;
  private readonly host: DestinationHost;
  private session: Promise<Session> | null = null;
  private readonly stored = new Map<string, Promise<Stored>>();
  /** The previous deliver(): each resolves after it, so calls resolve in the order made. */
  private previous: Promise<unknown> = Promise.resolve();
  /** The previous batch's publishing: the next batch's publishes go out after it. */
  private issuing: Promise<unknown> = Promise.resolve();
  /** lastStored's answers, once known: read synchronously while a batch is published. */
  private readonly storedNow = new Map<string, Stored>();
  private closed = false;
  /** Publishes JetStream recognised as duplicates, and records skipped as already stored. */
  readonly counts = { published: 0, duplicates: 0, skipped: 0 };

  constructor(config: OutputConfig, host: DestinationHost) {
    this.config = config;
    this.opts = config.options as unknown as NatsOptions;
    this.host = host;
  }

  private where(): string {
    return `output ${this.config.name}: ${this.opts.servers.join(", ")}`;
  }

  async deliver(batch: readonly OutRecord[]): Promise<void> {
    const before = this.previous;
    // publishes go out in call order, batch after batch (the last-stored check relies on a
    // subject's records being stored in seq order); their acks are awaited concurrently
    const issued = this.issuing.then(() => this.issue(batch));
    this.issuing = issued.catch(() => {});
    const mine = issued.then(([s, acks]) => this.settle(s, acks));
    this.previous = mine.catch(() => {});
    await before;
    await mine;
  }

  /** Publishes every record of `batch` not already stored; returns the pending acks. */
  private async issue(batch: readonly OutRecord[]): Promise<[Session, Promise<PubAck>[]]> {
    const s = await this.connected();
    for (const subject of new Set(batch.map((r) => subjectOf(r.origin, r.stream))))
      await this.lastStored(s, subject);
    const acks: Promise<PubAck>[] = [];
    for (const r of batch) {
      const subject = subjectOf(r.origin, r.stream);
      const stored = this.storedNow.get(subject)!;
      if (r.seq <= stored.seq && r.time <= stored.time) {
        this.counts.skipped++;
        continue;
      }
      const h = headers();
      h.set("Logward-Origin", r.origin);
      h.set("Logward-Stream", r.stream);
      h.set("Logward-Seq", String(r.seq));
      h.set("Logward-Time", r.time);
      h.set("Logward-Kind", r.kind);
      acks.push(
        s.js.publish(subject, unescapePayload(r.payload), {
          msgID: msgIdOf(r),
          headers: h,
          timeout: PUBLISH_TIMEOUT_MS,
        }),
      );
    }
    return [s, acks];
  }

  /** Resolves when every ack came; rejects on the first failed publish or a lost connection. */
  private async settle(s: Session, acks: Promise<PubAck>[]): Promise<void> {
    let failure: unknown = null;
    for (const result of await Promise.race([Promise.allSettled(acks), s.lost])) {
      if (result.status === "rejected") failure ??= result.reason;
      else if (result.value.duplicate) this.counts.duplicates++;
      else this.counts.published++;
    }
    if (failure !== null)
      throw new Error(
        `${this.where()}: a publish was not acknowledged (${(failure as Error).message ?? failure}).`,
      );
  }

  private connected(): Promise<Session> {
    if (this.closed) return Promise.reject(new Error(`${this.where()}: the output is stopping.`));
    this.session ??= this.open();
    return this.session;
  }

  private async open(): Promise<Session> {
    const o = this.opts;
    const tls =
      o.tls_ca || o.tls_cert
        ? {
            ...(o.tls_ca ? { caFile: o.tls_ca } : {}),
            ...(o.tls_cert && o.tls_key ? { certFile: o.tls_cert, keyFile: o.tls_key } : {}),
          }
        : undefined;
    let nc: NatsConnection;
    try {
      const auth = await credentials(o);
      nc = await connect({
        ...auth,
        servers: o.servers,
        name: `logward output ${this.config.name}`,
        timeout: CONNECT_TIMEOUT_MS,
        // one connection per destination: when it breaks, the waiting batch fails at once and
        // the runner makes a new destination after its backoff (and sends the batch again)
        reconnect: false,
        ...(tls ? { tls } : {}),
      });
    } catch (err) {
      throw new Error(`${this.where()}: cannot connect (${(err as Error).message}).`);
    }
    if (this.closed) {
      await nc.close();
      throw new Error(`${this.where()}: the output is stopping.`);
    }
    try {
      const jsm = await jetstreamManager(nc);
      await this.ensureStream(jsm);
      const lost = nc.closed().then((err) => {
        throw new Error(`${this.where()}: the connection was lost${err ? ` (${err.message})` : ""}.`);
      });
      lost.catch(() => {});
      return { nc, js: jetstream(nc), jsm, lost };
    } catch (err) {
      await nc.close().catch(() => {});
      throw new Error(`${this.where()}: JetStream: ${(err as Error).message}.`);
    }
  }

  /** Creates the JetStream stream when it does not exist; an existing one is used as it is. */
  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const name = this.opts.jetstream_stream;
    try {
      await jsm.streams.info(name);
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 404 && !/not found/i.test((err as Error).message)) throw err;
    }
    await jsm.streams.add({
      name,
      subjects: [`${SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      duplicate_window: nanos(this.opts.duplicate_window_ms),
    });
    this.host.log(`created the JetStream stream ${name} (subjects ${SUBJECT_PREFIX}.>)`);
  }

  /** The last record JetStream holds on `subject` (asked once per subject and destination). */
  private lastStored(s: Session, subject: string): Promise<Stored> {
    let p = this.stored.get(subject);
    if (!p) {
      p = s.jsm.streams.getMessage(this.opts.jetstream_stream, { last_by_subj: subject }).then(
        (m) => {
          const seq = Number(m?.header.get("Logward-Seq") ?? 0);
          const time = m?.header.get("Logward-Time") ?? "";
          const at = Number.isSafeInteger(seq) && time ? { seq, time } : { seq: 0, time: "" };
          this.storedNow.set(subject, at);
          return at;
        },
        (err: Error) => {
          if (/no message found|not found/i.test(err.message)) {
            this.storedNow.set(subject, { seq: 0, time: "" });
            return { seq: 0, time: "" };
          }
          this.stored.delete(subject);
          throw err;
        },
      );
      this.stored.set(subject, p);
    }
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = await this.session?.catch(() => null);
    await s?.nc.close().catch(() => {});
  }
}

export const createDestination: DestinationFactory = (config, host) => {
  const d = new NatsDestination(config, host);
  host.signal.addEventListener("abort", () => void d.close(), { once: true });
  return d;
};
