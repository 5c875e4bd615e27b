// The `syslog` output type: records as RFC 5424 messages, octet-counted (syslog-format.ts),
// over TLS as RFC 5425 says, to an rsyslog, syslog-ng or SIEM listener; the client
// certificate (tls_cert, tls_key) is optional, tls_ca replaces the system's CAs when given.
//
// Delivery: TLS syslog has no application acknowledgements, so deliver() resolves when the
// batch's bytes are written: handed to the kernel, the socket's buffer drained (the write
// callback). That is not proof that the receiver read them: bytes in our send queue, in the
// receiver's socket buffer or in a receiver that dies before it reads them would be lost, while
// the runner's cursor has moved on. So this module keeps a replay tail: the frames of the last
// REPLAY_TAIL_BYTES written for this output (more than the kernel's send and receive buffers
// can hold together, Linux's tcp_wmem and tcp_rmem maxima being 4 and 6 MiB), and when a
// connection fails (an error, or the receiver closing it) the next connection of the same
// output sends that tail again before anything new. Hence:
//   - loss window: none for a receiver that dies, restarts or drops the connection, as long as
//     logward itself keeps running (the tail is in memory); a receiver that read a message and
//     then lost it (its own in-memory queue on kill -9) is beyond what the protocol can tell.
//   - duplicate window: the replayed tail, at most REPLAY_TAIL_BYTES (and whatever the runner
//     resends after a failed deliver()); each message carries its store position
//     (HOSTNAME = origin, SD logward@32473 stream and seq), so a receiver can drop them.
// The tail lives in a map by output name, not in the destination object: after a failure the
// runner closes this destination and makes a new one, which must find it. A clean close()
// (reload, shutdown) clears it.

import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import { LogwardError } from "../errors.ts";
import type {
  Destination,
  DestinationFactory,
  DestinationHost,
  OutputConfig,
  OutRecord,
} from "./destination.ts";
import { syslogFrame } from "./syslog-format.ts";

/** What is sent again after a failed connection: more than kernel buffers hold in flight. */
export const REPLAY_TAIL_BYTES = 16 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
const KEEPALIVE_MS = 30_000;

/** The last frames written for one output, oldest first, bounded by bytes. */
class ReplayTail {
  private frames: Buffer[] = [];
  private head = 0;
  private bytes = 0;
  /** True when the connection these frames went out on failed: send them again first. */
  failed = false;

  push(frames: readonly Buffer[]): void {
    for (const f of frames) {
      this.frames.push(f);
      this.bytes += f.length;
    }
    while (this.bytes > REPLAY_TAIL_BYTES && this.head < this.frames.length - 1) {
      this.bytes -= this.frames[this.head]!.length;
      this.frames[this.head++] = Buffer.alloc(0);
    }
    if (this.head > 4096 && this.head > this.frames.length / 2) {
      this.frames = this.frames.slice(this.head);
      this.head = 0;
    }
  }

  /** The frames to send again, as one buffer, and how many. */
  take(): { data: Buffer; count: number } {
    const live = this.frames.slice(this.head);
    return { data: Buffer.concat(live), count: live.length };
  }
}

const tails = new Map<string, ReplayTail>();

function tailOf(name: string): ReplayTail {
  let t = tails.get(name);
  if (!t) {
    t = new ReplayTail();
    tails.set(name, t);
  }
  return t;
}

interface SyslogOptions {
  address: string;
  host: string;
  port: number;
  server_name: string | null;
  tls_ca: string | null;
  tls_cert: string | null;
  tls_key: string | null;
}

async function pem(config: OutputConfig, key: string, path: string | null): Promise<Buffer | undefined> {
  if (path === null) return undefined;
  try {
    return await readFile(path);
  } catch (err) {
    throw new LogwardError(
      "LW_CONFIG",
      `output ${config.name}: ${key} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}).`,
    );
  }
}

export class SyslogDestination implements Destination {
  private readonly config: OutputConfig;
  private readonly opts: SyslogOptions;
  private readonly host: DestinationHost;
  private readonly tail: ReplayTail;
  private socket: TLSSocket | null = null;
  private connecting: Promise<TLSSocket> | null = null;
  private failure: Error | null = null;
  private closing = false;

  constructor(config: OutputConfig, host: DestinationHost) {
    this.config = config;
    this.opts = config.options as unknown as SyslogOptions;
    this.host = host;
    this.tail = tailOf(config.name);
  }

  async deliver(batch: readonly OutRecord[]): Promise<void> {
    const socket = await this.connected();
    const frames = batch.map(syslogFrame);
    this.tail.push(frames);
    await this.write(socket, frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  private connected(): Promise<TLSSocket> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error(`output ${this.config.name}: the output is stopping.`));
    this.connecting ??= this.open();
    return this.connecting;
  }

  private async open(): Promise<TLSSocket> {
    const o = this.opts;
    const [ca, cert, key] = await Promise.all([
      pem(this.config, "tls_ca", o.tls_ca),
      pem(this.config, "tls_cert", o.tls_cert),
      pem(this.config, "tls_key", o.tls_key),
    ]);
    const where = `output ${this.config.name}: ${o.address}`;
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({
        host: o.host,
        port: o.port,
        servername: o.server_name ?? (isIP(o.host) ? undefined : o.host),
        minVersion: "TLSv1.2",
        ...(ca ? { ca } : {}),
        ...(cert && key ? { cert, key } : {}),
      });
      const timer = setTimeout(
        () => s.destroy(new Error("no TLS handshake within 10 s")),
        CONNECT_TIMEOUT_MS,
      );
      s.once("secureConnect", () => {
        clearTimeout(timer);
        s.off("error", fail);
        resolve(s);
      });
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(new Error(`${where}: cannot connect (${err.message}).`));
      };
      s.once("error", fail);
    });
    if (this.closing) {
      socket.destroy();
      throw new Error(`${where}: the output is stopping.`);
    }
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const lost = (why: string) => {
      if (this.closing || this.failure) return;
      this.failure = new Error(`${where}: the connection was lost (${why}).`);
      this.tail.failed = true;
      socket.destroy();
    };
    socket.on("error", (err) => lost(err.message));
    socket.on("end", () => lost("the receiver closed it"));
    socket.on("close", () => lost("closed"));
    this.socket = socket;
    if (this.tail.failed) {
      const { data, count } = this.tail.take();
      this.tail.failed = false;
      if (count > 0) {
        this.host.log(`sending the last ${count} records again after a lost connection (at least once)`);
        await this.write(socket, data);
      }
    }
    return socket;
  }

  /** Resolves when `data` is handed to the kernel; rejects once the connection failed. */
  private write(socket: TLSSocket, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      socket.write(data, (err) => {
        if (err || this.failure) {
          this.tail.failed = !this.closing;
          reject(this.failure ?? err);
        } else resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    // a clean stop: nothing to send again (a failed connection's tail waits for the next one)
    if (!this.failure && !this.tail.failed) tails.delete(this.config.name);
    const socket = this.socket ?? (await this.connecting?.catch(() => null)) ?? null;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 2000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }
}

export const createDestination: DestinationFactory = (config, host) => {
  const d = new SyslogDestination(config, host);
  host.signal.addEventListener("abort", () => void d.close(), { once: true });
  return d;
};
