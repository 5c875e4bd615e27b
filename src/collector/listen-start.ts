// Starting the `[[listen]]` listeners: what each kind asks of the collector, given through
// narrow hosts (net-listeners.ts: open a session, count a refusal; datagram-listener.ts, UDP and
// unix: open a stream, ask the policy, write an event), so that neither imports the collector. A connection
// refused by admission (session limits, a blocked origin) is counted like any other refusal.
// What started is pushed to the caller's lists at once, so a later failure can close it.

import type { Server, Socket } from "node:net";
import type { ListenConfig } from "../config/types.ts";
import type { Policy } from "../policy/engine.ts";
import type { Store } from "../store/store.ts";
import { Refusal } from "./admission.ts";
import { DatagramListener } from "./datagram-listener.ts";
import { type Caller, type Listener, sayRefused } from "./listeners.ts";
import { type NetHost, type NetListener, startNetListener } from "./net-listeners.ts";
import type { RepeatedEvents } from "./repeats.ts";

/** What starting the listeners needs from the collector. */
export interface ListenDeps {
  /** Admits a connection and makes it a session (the collector's own way). */
  begin(socket: Socket, listener: Listener, caller: Caller): Promise<void>;
  readonly repeats: Pick<RepeatedEvents, "note">;
  readonly store: Pick<Store, "root" | "stream">;
  readonly policy: Pick<Policy, "track" | "blocked" | "takeRate" | "noteAppend" | "whenChanged">;
  /** `max_record`: a longer unix datagram is cut. */
  readonly maxRecordBytes: number;
  event(name: string, fields: Record<string, string | number>): void;
  stopping(): boolean;
}

/** Where the started listeners go (the collector's lists). */
export interface Started {
  net: NetListener[];
  datagrams: DatagramListener[];
  servers: Server[];
}

const named = (l: ListenConfig) => `listen #${l.index + 1} ${l.transport} ${l.address}`;

/** Starts every listener of `configs`; the first that cannot start throws (a LogwardError). */
export async function startListeners(
  configs: readonly ListenConfig[],
  deps: ListenDeps,
  into: Started,
): Promise<void> {
  const host: NetHost = {
    open: (socket, caller, l) => {
      const listener: Listener = { kind: "net", path: named(l) };
      const format = caller.format ?? "syslog";
      void deps.begin(socket, listener, { ...caller, format }).catch((err: Error) => {
        const r = err instanceof Refusal ? err : new Refusal("error", caller.origin, err.message);
        deps.repeats.note("refused", r.origin ?? "-", `${r.kind}/${caller.transport}`, {
          transport: caller.transport,
          origin: caller.origin,
          kind: r.kind,
          reason: r.message,
        });
        sayRefused(socket, listener, r.message);
      });
    },
    refused: (l, kind, peer, origin, reason) => {
      // one line and one event per kind a minute, however many peers are refused
      const first = deps.repeats.note("refused", origin ?? "-", `${kind}/${l.transport}`, {
        transport: l.transport,
        listener: l.address,
        peer,
        kind,
        reason,
      });
      if (first) process.stderr.write(`logward: ${named(l)}: refused ${peer}: ${reason}\n`);
    },
    get stopping() {
      return deps.stopping();
    },
    storeRoot: deps.store.root,
  };
  const datagramHost = {
    openStream: async (origin: string, stream: string) => {
      const w = await deps.store.stream(origin, stream);
      deps.policy.track(w);
      return w;
    },
    policy: deps.policy,
    event: (name: string, fields: Record<string, string | number>) => deps.event(name, fields),
    repeated: (name: string, origin: string, kind: string, fields: Record<string, string | number>) =>
      void deps.repeats.note(name, origin, kind, fields),
    maxRecordBytes: deps.maxRecordBytes,
  };
  for (const l of configs) {
    if (l.transport === "udp" || l.transport === "unix") {
      into.datagrams.push(await DatagramListener.start(l, datagramHost));
      continue;
    }
    const n = await startNetListener(l, host);
    into.net.push(n);
    into.servers.push(n.server);
  }
}
