// SIGHUP and `[[listen]]`: the listeners move to the new list without dropping a connection.
// A listener whose table is unchanged keeps running (a TLS one reads its certificate again,
// collector.ts); a removed one stops accepting, and its open connections go on as the sessions
// they are until their senders end them; an added one starts. A changed one is a removed one and
// an added one: closed first when it keeps its address (it could not bind beside itself), and
// if the new one cannot start (an address in use, a key it cannot read), the old one is started
// again, so a reload never leaves an address without the listener it had.

import type { ListenConfig } from "../config/types.ts";
import type { Started } from "./listen-start.ts";

/** What makes a listener the same across a reload: its table without its place in the file. */
function identity(l: ListenConfig): string {
  const { index: _index, ...rest } = l;
  return JSON.stringify(rest);
}

/** The socket a listener holds, for finding an old one in the way of a new one. */
function socketOf(l: ListenConfig): string {
  return l.transport === "udp" || l.transport === "unix"
    ? `${l.transport} ${l.address}`
    : `stream ${l.host}:${l.port}`;
}

/** Starts `configs` and puts what started into `into`; throws for the first that cannot start. */
export type StartListeners = (configs: readonly ListenConfig[], into: Started) => Promise<void>;

/** Moves the running listeners `running` to `next`; `problem` gets one sentence per failure. */
export async function reloadListeners(
  next: readonly ListenConfig[],
  running: Started,
  start: StartListeners,
  problem: (message: string) => void,
): Promise<void> {
  const wanted = new Set(next.map(identity));
  const have = new Set([
    ...running.net.map((n) => identity(n.config)),
    ...running.datagrams.map((d) => identity(d.config)),
  ]);
  const removed: ListenConfig[] = [];
  for (const n of [...running.net]) {
    if (wanted.has(identity(n.config))) continue;
    running.net.splice(running.net.indexOf(n), 1);
    running.servers.splice(running.servers.indexOf(n.server), 1);
    n.server.close(); // stops accepting; its connections are sessions and go on
    removed.push(n.config);
  }
  for (const d of [...running.datagrams]) {
    if (wanted.has(identity(d.config))) continue;
    running.datagrams.splice(running.datagrams.indexOf(d), 1);
    await d.close();
    removed.push(d.config);
  }
  for (const l of next) {
    if (have.has(identity(l))) continue;
    try {
      await start([l], running);
    } catch (err) {
      const old = removed.find((r) => socketOf(r) === socketOf(l));
      let kept = "";
      if (old) {
        try {
          await start([old], running);
          kept = "; the previous listener on that address goes on";
        } catch {
          kept = "; the previous listener on that address could not be started again either";
        }
      }
      problem(
        `listen #${l.index + 1} (${l.transport} ${l.address}) did not start: ${(err as Error).message}${kept}`,
      );
    }
  }
}
