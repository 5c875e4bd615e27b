// Feeds the drop counters (drop-counts.ts) from what the collector already records: every
// refusal noted through repeats.ts (counted each time, even when only the minute's sum is
// written to `_logward/events`; a refused blob too), and the datagram listeners' `udp-dropped`/`unix-dropped`
// events (the collector's drops and the kernel's, summed per listener every DROP_REPORT_MS).
// A datagram listener's drops are the origin's when the listener has a fixed origin; with
// origin = "address" they are the listener's only (the listener sums every peer).

import type { ListenConfig } from "../config/types.ts";
import type { Alerts } from "../policy/alerts.ts";
import type { DropCounts } from "./drop-counts.ts";

type Fields = Record<string, string | number>;

export class DropTally {
  readonly counts: DropCounts;
  private readonly listen: () => readonly ListenConfig[];

  constructor(counts: DropCounts, listen: () => readonly ListenConfig[]) {
    this.counts = counts;
    this.listen = listen;
  }

  /** A repeatable event (repeats.ts): refused connections, sessions and datagrams. */
  counted(name: string, origin: string, kind: string, fields: Fields): void {
    const listener = typeof fields.listener === "string" ? fields.listener : null;
    if (name === "refused" || name === "blob-refused") this.counts.add(origin, listener, kind, 1);
    else if (name.endsWith("-refused") && typeof fields.dropped === "number")
      this.counts.add(origin, listener, name, fields.dropped);
  }

  /** One of the collector's own events: `<transport>-dropped` carries a listener's drops. */
  dropped(name: string, fields: Fields): void {
    if (!name.endsWith("-dropped") || typeof fields.listener !== "string") return;
    const transport = name.slice(0, -"-dropped".length);
    const l = this.listen().find((c) => c.address === fields.listener && c.transport === transport);
    const origin = l && l.origin !== "address" && l.origin !== "cert" ? l.origin : null;
    if (typeof fields.dropped === "number")
      this.counts.add(origin, fields.listener, `${transport}-collector`, fields.dropped);
    if (typeof fields.kernel === "number")
      this.counts.add(origin, fields.listener, `${transport}-kernel`, fields.kernel);
  }

  /** Every second: the alerts due, and the state file when a count changed. */
  tick(alerts: Alerts): void {
    for (const a of this.counts.dueAlerts())
      alerts.raise({
        kind: "dropped",
        ...(a.origin === null ? {} : { origin: a.origin }),
        message: a.message,
      });
    void this.counts.save();
  }
}
