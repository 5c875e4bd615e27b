// How the `[[notify]]` rules run (notify.ts): each rule is an output of its own to the outputs'
// worker (outputs.ts, output-set.ts), named `_notify.<name>` (an `[[output]]` name cannot start
// with `_`, so the two never share cursors), of type "notify", starting at the newest record of a
// stream it has no cursor for: a new rule notifies about what comes, not about last year. So a
// rule reads the store, never the ingest path; it sees a record only once the store made it
// durable (durable-gate.ts); its expression runs off the collector's thread; its cursors survive
// a restart; and `logward ls` and the web UI show its state as they show an output's. SIGHUP
// starts added rules, stops removed ones and restarts changed ones, with the outputs.
//
// Delivery: at least once. The runner moves a rule's cursor once the batch was checked and its
// commands started; a kill -9 between the two can run a command again for the same record after
// the restart, but never loses one and never notifies about a record that is not durable.

import type { NotifyConfig, OutputConfig, OutputType } from "../config/types.ts";
import type { DestinationFactory } from "./destination.ts";
import { NotifyDestination, type RaiseNotify } from "./notify.ts";

/** The output type the runner and run/outputs.json know a rule by. */
export const NOTIFY_TYPE = "notify" as unknown as OutputType;
/** A rule's output name: its cursors are under run/outputs/<this>/. */
export const notifyOutputName = (rule: string): string => `_notify.${rule}`;

/** The runner's view of the rules: one output each, whose options hold the rule. */
export function notifyOutputs(rules: readonly NotifyConfig[]): OutputConfig[] {
  return rules.map((rule) =>
    Object.freeze({
      name: notifyOutputName(rule.name),
      // not a configurable [[output]] type: only the runner's state and messages show it
      type: NOTIFY_TYPE,
      match: rule.match,
      start: "newest",
      command: rule.command,
      options: Object.freeze({ rule }),
      file: "",
    }),
  );
}

/** The destination of a rule's output: `raise` makes each notification an alert. */
export function notifyFactory(raise: RaiseNotify): DestinationFactory {
  return (config, host) =>
    new NotifyDestination((config.options as { rule: NotifyConfig }).rule, host, raise);
}
