// The facade the collector runs the `[[notify]]` rules through (notify.ts): each rule is an
// output of its own to the runner (runner.ts), named `_notify.<name>` (an `[[output]]` name
// cannot start with `_`, so the two never share cursors), starting at the newest record of a
// stream it has no cursor for: a new rule notifies about what comes, not about last year.
// apply() on SIGHUP starts added rules, stops removed ones and restarts changed ones.

import type { NotifyConfig, OutputConfig, OutputType } from "../config/types.ts";
import type { DestinationFactory } from "./destination.ts";
import { NotifyDestination, type RaiseNotify } from "./notify.ts";
import { OutputRunner } from "./runner.ts";

export interface NotifyRulesOptions {
  readonly log: (message: string) => void;
  /** Raises an `alert=notify` (the collector's Alerts). */
  readonly raise: RaiseNotify;
  readonly backoffMs?: number;
}

/** The runner's view of a rule: an output whose destination is the rule. */
function asOutput(rule: NotifyConfig): OutputConfig {
  return Object.freeze({
    name: `_notify.${rule.name}`,
    // not a configurable [[output]] type: only the runner's state and messages show it
    type: "notify" as unknown as OutputType,
    match: rule.match,
    start: "newest",
    command: rule.command,
    options: Object.freeze({}),
    file: "",
  });
}

export class NotifyRules {
  private readonly root: string;
  private readonly opts: NotifyRulesOptions;
  private readonly running = new Map<string, { rule: string; runner: OutputRunner }>();
  private applying: Promise<void> = Promise.resolve();

  constructor(root: string, opts: NotifyRulesOptions) {
    this.root = root;
    this.opts = opts;
  }

  apply(rules: readonly NotifyConfig[]): Promise<void> {
    this.applying = this.applying.then(() => this.applyNow(rules));
    return this.applying;
  }

  async close(): Promise<void> {
    await this.applying;
    await Promise.all([...this.running.values()].map((r) => r.runner.stop()));
    this.running.clear();
  }

  private async applyNow(rules: readonly NotifyConfig[]): Promise<void> {
    const wanted = new Map(rules.map((r) => [r.name, r]));
    const stopping: Promise<void>[] = [];
    for (const [name, r] of this.running) {
      const next = wanted.get(name);
      if (next && JSON.stringify(next) === r.rule) continue;
      this.running.delete(name);
      stopping.push(r.runner.stop());
    }
    await Promise.all(stopping);
    for (const rule of rules) {
      if (this.running.has(rule.name)) continue;
      const factory: DestinationFactory = (_config, host) =>
        new NotifyDestination(rule, host, this.opts.raise);
      const runner = new OutputRunner({
        root: this.root,
        config: asOutput(rule),
        factory,
        log: this.opts.log,
        ...(this.opts.backoffMs !== undefined ? { backoffMs: this.opts.backoffMs } : {}),
      });
      this.running.set(rule.name, { rule: JSON.stringify(rule), runner });
      runner.start();
    }
  }
}
