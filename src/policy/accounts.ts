// What the policy counts: every stream writer the collector registered, by origin (usage is
// bytes on disk from the writers, so it is right after a restart, a rotation or a compression),
// each origin's rule under the configuration in force, and the quota accounts that count an
// origin (its own quota, its group's) with their usage.

import { ruleFor } from "../config/policy.ts";
import type { PolicyConfig, PolicyRule } from "../config/types.ts";
import type { StreamWriter } from "../store/stream-writer.ts";

/** A quota that is counted: one origin's, or a group's. */
export interface Account {
  /** The origin, or `group:<name>`. */
  key: string;
  label: { origin?: string; group?: string };
  /** How alerts name it: the origin, or "group <name>". */
  who: string;
  quota: number;
  onQuota: PolicyRule["onQuota"];
  /** Its origins now: a group gains members while it is being evicted from. */
  origins: () => string[];
}

export class Accounts {
  private configInForce: PolicyConfig;
  private readonly writers = new Map<string, Set<StreamWriter>>();
  /** origin -> its rule, for the configuration in force (cleared on reload). */
  private readonly rules = new Map<string, PolicyRule>();

  constructor(config: PolicyConfig) {
    this.configInForce = config;
  }

  get config(): PolicyConfig {
    return this.configInForce;
  }

  /** A new configuration: every origin's rule is looked up again. */
  setConfig(config: PolicyConfig): void {
    this.configInForce = config;
    this.rules.clear();
  }

  /** Counts this stream's bytes from now on. */
  track(w: StreamWriter): void {
    let set = this.writers.get(w.origin);
    if (!set) {
      set = new Set();
      this.writers.set(w.origin, set);
    }
    set.add(w);
  }

  /** A stream was deleted: it counts no more. */
  forget(w: StreamWriter): void {
    const set = this.writers.get(w.origin);
    set?.delete(w);
    if (set && set.size === 0) this.writers.delete(w.origin);
  }

  /** Every origin with a counted stream (live: origins tracked meanwhile are visited too). */
  origins(): IterableIterator<string> {
    return this.writers.keys();
  }

  /** Every origin with its writers (live, like origins()). */
  entries(): IterableIterator<[string, Set<StreamWriter>]> {
    return this.writers.entries();
  }

  /** The writers of these origins, origin by origin. */
  writersOf(origins: readonly string[]): StreamWriter[] {
    return origins.flatMap((o) => [...(this.writers.get(o) ?? [])]);
  }

  rule(origin: string): PolicyRule {
    let r = this.rules.get(origin);
    if (!r) {
      r = ruleFor(this.configInForce, origin);
      this.rules.set(origin, r);
    }
    return r;
  }

  usageOf(origin: string): number {
    let n = 0;
    for (const w of this.writers.get(origin) ?? []) n += w.diskBytes();
    return n;
  }

  membersOf(group: string): string[] {
    return [...this.writers.keys()].filter((o) => this.rule(o).group === group);
  }

  /** The quotas that count `origin`: its own, and its group's. */
  of(origin: string): Account[] {
    const rule = this.rule(origin);
    const out: Account[] = [];
    if (rule.quota !== null) {
      out.push({
        key: origin,
        label: { origin },
        who: origin,
        quota: rule.quota,
        onQuota: rule.onQuota,
        origins: () => [origin],
      });
    }
    const groups = this.configInForce.groups;
    const gq = rule.group !== null && Object.hasOwn(groups, rule.group) ? groups[rule.group]!.quota : null;
    const group = rule.group;
    if (group !== null && gq !== null) {
      out.push({
        key: `group:${group}`,
        label: { group },
        who: `group ${group}`,
        quota: gq,
        onQuota: rule.onQuota,
        origins: () => this.membersOf(group),
      });
    }
    return out;
  }

  usage(a: Account): number {
    let n = 0;
    for (const o of a.origins()) n += this.usageOf(o);
    return n;
  }
}
