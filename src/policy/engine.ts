// The policy engine: usage per origin and per group, quotas with `drop-oldest` or `refuse`,
// retention by age, rate limits, the global free-space reserve, and the alerts they raise. It
// never drops a record that was accepted: `refuse`, rate limits and the reserve slow senders
// down (the collector stops reading them); `drop-oldest` and retention remove whole sealed
// segments of the origin (or group) concerned, and say so in that stream (`!evict`).
//
// This is the thin front the collector talks to; the work is in the modules beside it:
// accounts.ts (writers, rules, usage), quota.ts (levels, refusing), drop-oldest.ts and
// retention.ts (removal, with eviction.ts), rate.ts, reserve.ts and state.ts (run/policy.json).
// The collector opens each stream from the store and hands its writer over (`track`).

import type { PolicyConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { listStreams } from "../store/read.ts";
import type { Store } from "../store/store.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { Accounts } from "./accounts.ts";
import type { Alert, Alerts } from "./alerts.ts";
import { DropOldest, type DropOldestHost } from "./drop-oldest.ts";
import { QuotaLevels } from "./quota.ts";
import { RateLimiter } from "./rate.ts";
import { DiskReserve, RESERVE_CHECK_MS } from "./reserve.ts";
import { applyRetention, RETENTION_EVERY_MS, type RetentionHost } from "./retention.ts";
import { type PolicyState, type QuotaState, StateFile } from "./state.ts";

export type { PolicyState, QuotaState } from "./state.ts";

/** How often the state file is looked at (it is written only when something changed). */
const STATE_EVERY_MS = 1000;

export interface PolicyOptions {
  /** Milliseconds since the epoch (tests); the store's clock by default. */
  nowMs?: () => number;
  /** Run the timers (reserve, retention, state file); off in unit tests that drive it. */
  timers?: boolean;
}

export class Policy {
  private readonly nowMs: () => number;
  private readonly accounts: Accounts;
  /** What the removal modules (drop-oldest, retention) are given of the policy. */
  private readonly host: DropOldestHost & RetentionHost;
  private readonly quotas: QuotaLevels;
  private readonly dropOldest: DropOldest;
  private readonly rates: RateLimiter;
  private readonly reserve: DiskReserve;
  private readonly state: StateFile;
  /** Origins appended to since the last quota check (checked once per loop turn). */
  private readonly dirty = new Set<string>();
  private checkScheduled = false;
  /** Sessions held until the policy may have changed its mind. */
  private waiters: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;

  private constructor(store: Store, config: PolicyConfig, alerts: Alerts, opts: PolicyOptions) {
    const nowMs = opts.nowMs ?? (() => Math.floor(store.nowUs() / 1000));
    this.nowMs = nowMs;
    const raise = (a: Alert) => alerts.raise(a);
    const changed = () => this.state.mark();
    this.accounts = new Accounts(config);
    this.state = new StateFile(store.root, () => this.snapshot());
    this.rates = new RateLimiter(raise, nowMs);
    this.reserve = new DiskReserve(store.root, raise, nowMs, changed);
    this.host = {
      store,
      accounts: this.accounts,
      raise,
      nowMs,
      changed,
      stopped: () => this.stopped,
      noteAppend: (origin) => this.noteAppend(origin),
    };
    this.dropOldest = new DropOldest(this.host);
    this.quotas = new QuotaLevels({
      ...this.host,
      wake: () => this.wake(),
      evict: (a) => this.dropOldest.evict(a),
    });
  }

  /** Counts every stream of the store, applies retention once, starts the timers. */
  static async start(
    store: Store,
    config: PolicyConfig,
    alerts: Alerts,
    opts: PolicyOptions = {},
  ): Promise<Policy> {
    const p = new Policy(store, config, alerts, opts);
    for (const { origin, stream } of await listStreams(store.root)) {
      if (origin === COLLECTOR_ORIGIN) continue;
      // a planted link or another user's directory or segment is not the store's: not opened,
      // not counted; a session to it is refused and recorded in _logward/events
      let w: StreamWriter;
      try {
        w = await store.stream(origin, stream);
      } catch (err) {
        if (err instanceof LogwardError && err.code === "LW_UNSAFE_PATH") continue;
        throw err;
      }
      p.accounts.track(w);
    }
    await p.checkReserve();
    await p.runRetention();
    for (const origin of p.accounts.origins()) p.noteAppend(origin);
    if (opts.timers !== false) {
      const reserve = setInterval(() => void p.checkReserve(), RESERVE_CHECK_MS);
      const retention = setInterval(() => void p.runRetention(), RETENTION_EVERY_MS);
      const state = setInterval(() => void p.writeState(), STATE_EVERY_MS);
      for (const t of [reserve, retention, state]) {
        t.unref();
        p.timers.push(t);
      }
    }
    return p;
  }

  /** A stream the collector opened (from the store): its bytes count from now on. */
  track(w: StreamWriter): void {
    this.accounts.track(w);
  }

  /** A stream was deleted: it counts no more. */
  forget(w: StreamWriter): void {
    this.accounts.forget(w);
    this.state.mark();
  }

  /** A new configuration (SIGHUP): rules, buckets and the reserve are looked at again. */
  reload(config: PolicyConfig): void {
    this.accounts.setConfig(config);
    this.rates.clear();
    for (const origin of this.accounts.origins()) this.noteAppend(origin);
    void this.checkReserve();
  }

  get current(): PolicyConfig {
    return this.accounts.config;
  }

  // ---- what sessions ask ----

  /** True while nothing more may be read from this origin (refuse at quota, or the disk reserve). */
  blocked(origin: string): boolean {
    if (this.reserve.low) return true;
    const rule = this.accounts.rule(origin);
    if (rule.onQuota !== "refuse") return false;
    // decided now, not on the next loop turn: a refusing origin gets not one chunk more
    for (const a of this.accounts.of(origin)) {
      if (this.quotas.refusing.has(a.key)) return true;
      if (this.accounts.usage(a) > a.quota) {
        this.quotas.evaluate(a);
        return true;
      }
    }
    return false;
  }

  /**
   * Resolves when the policy may have changed its mind (space made, reload, disk freed), and at
   * the latest with the next reserve check (once a second).
   */
  whenChanged(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** Records just accepted from `origin`: how long its sessions should now wait (rate limit). */
  takeRate(origin: string, records: number): number {
    return this.rates.take(origin, this.accounts.rule(origin).rate, records);
  }

  /** Something was appended for `origin`: check its quotas soon (batched per loop turn). */
  noteAppend(origin: string): void {
    if (origin === COLLECTOR_ORIGIN) return;
    this.dirty.add(origin);
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      const origins = [...this.dirty];
      this.dirty.clear();
      for (const o of origins) this.check(o);
      // while records arrive, the free space is looked at ten times a second, not once
      if (this.reserve.due) void this.checkReserve();
    });
  }

  usageOf(origin: string): number {
    return this.accounts.usageOf(origin);
  }

  private check(origin: string): void {
    if (this.stopped) return;
    for (const a of this.accounts.of(origin)) this.quotas.evaluate(a);
  }

  /** Removes what is older than each origin's retention. */
  runRetention(): Promise<void> {
    return applyRetention(this.host);
  }

  /** Looks at the free space; refusing accounts and held sessions look again too. */
  async checkReserve(): Promise<void> {
    if (!(await this.reserve.check(this.accounts.config.minFree))) return;
    // refusing accounts are rechecked here too: space may have been made by hand or retention
    for (const key of this.quotas.refusing) {
      const origin = key.startsWith("group:") ? this.accounts.membersOf(key.slice(6))[0] : key;
      if (origin) this.noteAppend(origin);
    }
    // held sessions look again once a second at most, whatever changed
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  // ---- state for `logward ls` and the web UI ----

  stateOf(origin: string): QuotaState {
    const accounts = this.accounts.of(origin);
    if (accounts.some((a) => this.quotas.refusing.has(a.key)) || this.reserve.low) return "refusing";
    const level = Math.max(0, ...accounts.map((a) => this.quotas.levelOf(a)));
    return level >= 100 ? "at quota" : level >= 80 ? "near quota" : "ok";
  }

  /** Every origin's quota state and use now (the web UI; `ls` reads the file writeState writes). */
  snapshot(): PolicyState {
    const origins: PolicyState["origins"] = {};
    for (const o of this.accounts.origins()) {
      const rule = this.accounts.rule(o);
      origins[o] = { state: this.stateOf(o), bytes: this.usageOf(o), quota: rule.quota, group: rule.group };
    }
    return {
      updated: new Date(this.nowMs()).toISOString(),
      disk: { free: this.reserve.free, low: this.reserve.low },
      origins,
    };
  }

  /** Writes <store>/run/policy.json (what `ls` shows) when something changed. */
  writeState(force = false): Promise<void> {
    return this.state.write(force);
  }

  async stop(): Promise<void> {
    // a last look at every quota, so that what the last sessions added is within it
    for (const o of this.accounts.origins()) this.check(o);
    await this.dropOldest.idle();
    for (const o of this.accounts.origins())
      for (const a of this.accounts.of(o)) this.dropOldest.report(a, true);
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.state.stop();
    await this.dropOldest.idle();
    await this.writeState(true);
    this.wake();
  }
}
