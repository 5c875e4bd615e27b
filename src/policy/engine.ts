// The policy engine: usage per origin and per group (bytes on disk, from the stream writers, so
// it is right after a restart, a rotation or a compression), quotas with `drop-oldest` or
// `refuse`, retention by age, rate limits, the global free-space reserve, and the alerts they
// raise. It never drops a record that was accepted: `refuse`, rate limits and the reserve slow
// senders down (the collector stops reading them); `drop-oldest` and retention remove whole
// sealed segments of the origin (or group) concerned, and say so in that stream (`!evict`).

import { statfs } from "node:fs/promises";
import { join } from "node:path";
import { ruleFor } from "../config/policy.ts";
import type { PolicyConfig, PolicyRule } from "../config/types.ts";
import { formatBytes } from "../config/units.ts";
import { writeFileAtomic } from "../store/files.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { type ObjectInfo, objectFields } from "../store/objects.ts";
import { listStreams } from "../store/read.ts";
import { parseTime } from "../store/record.ts";
import { type SegmentMeta, segmentFields } from "../store/segment.ts";
import type { Store } from "../store/store.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import type { Alerts } from "./alerts.ts";

export type QuotaState = "ok" | "near quota" | "at quota" | "refusing";

interface Bucket {
  tokens: number;
  last: number;
  alertedAt: number;
}

/** A quota that is counted: one origin's, or a group's. */
interface Account {
  key: string;
  label: { origin?: string; group?: string };
  quota: number;
  onQuota: PolicyRule["onQuota"];
  /** Its origins now: a group gains members while it is being evicted from. */
  origins: () => string[];
}

const RESERVE_CHECK_MS = 1000;
const RATE_ALERT_EVERY_MS = 60_000;
const CROSSING_QUIET_MS = 15 * 60_000;

export interface PolicyOptions {
  /** Milliseconds since the epoch (tests); the store's clock by default. */
  nowMs?: () => number;
  /** Run the timers (reserve, retention, state file); off in unit tests that drive it. */
  timers?: boolean;
}

export class Policy {
  private config: PolicyConfig;
  private readonly store: Store;
  private readonly alerts: Alerts;
  private readonly nowMs: () => number;
  private readonly writers = new Map<string, Set<StreamWriter>>();
  /** When each account last crossed each level (`key@80`, `key@100`). */
  private readonly crossedAt = new Map<string, number>();
  /** Last alert level of each account: 0, 80 or 100 (per cent of its quota). */
  private readonly levels = new Map<string, number>();
  private readonly refusing = new Set<string>();
  private readonly evicting = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private checkScheduled = false;
  private diskLow = false;
  private freeBytes = Number.POSITIVE_INFINITY;
  private waiters: (() => void)[] = [];
  private readonly buckets = new Map<string, Bucket>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stateDue = false;
  private stopped = false;
  /** origin -> its rule, for the configuration in force (cleared on reload). */
  private readonly rules = new Map<string, PolicyRule>();
  /** Evictions not yet reported, per account: one alert a minute at most. */
  private readonly evictedSince = new Map<
    string,
    { at: number; records: number; segments: number; bytes: number }
  >();

  private constructor(store: Store, config: PolicyConfig, alerts: Alerts, opts: PolicyOptions) {
    this.store = store;
    this.config = config;
    this.alerts = alerts;
    this.nowMs = opts.nowMs ?? (() => Math.floor(store.nowUs() / 1000));
  }

  /** Opens every stream of the store (to count it), applies retention once, starts the timers. */
  static async start(
    store: Store,
    config: PolicyConfig,
    alerts: Alerts,
    opts: PolicyOptions = {},
  ): Promise<Policy> {
    const p = new Policy(store, config, alerts, opts);
    for (const { origin, stream } of await listStreams(store.root)) {
      if (origin === COLLECTOR_ORIGIN) continue;
      p.register(await store.stream(origin, stream));
    }
    await p.checkReserve();
    await p.runRetention();
    for (const origin of p.writers.keys()) p.noteAppend(origin);
    if (opts.timers !== false) {
      const reserve = setInterval(() => void p.checkReserve(), RESERVE_CHECK_MS);
      const retention = setInterval(() => void p.runRetention(), p.retentionEveryMs());
      const state = setInterval(() => void p.writeState(), 1000);
      for (const t of [reserve, retention, state]) {
        t.unref();
        p.timers.push(t);
      }
    }
    return p;
  }

  /** The writer of a stream, counted from now on. */
  async stream(origin: string, stream: string): Promise<StreamWriter> {
    const w = await this.store.stream(origin, stream);
    this.register(w);
    return w;
  }

  private register(w: StreamWriter): void {
    let set = this.writers.get(w.origin);
    if (!set) {
      set = new Set();
      this.writers.set(w.origin, set);
    }
    set.add(w);
  }

  private rule(origin: string): PolicyRule {
    let r = this.rules.get(origin);
    if (!r) {
      r = ruleFor(this.config, origin);
      this.rules.set(origin, r);
    }
    return r;
  }

  /** A stream was deleted: it counts no more. */
  forget(w: StreamWriter): void {
    const set = this.writers.get(w.origin);
    set?.delete(w);
    if (set && set.size === 0) this.writers.delete(w.origin);
    this.markState();
  }

  reload(config: PolicyConfig): void {
    this.config = config;
    this.rules.clear();
    this.alerts.setCommand(config.alertCommand);
    this.buckets.clear();
    for (const origin of this.writers.keys()) this.noteAppend(origin);
    void this.checkReserve();
  }

  get current(): PolicyConfig {
    return this.config;
  }

  // ---- what sessions ask ----

  /** True while nothing more may be read from this origin (refuse at quota, or the disk reserve). */
  blocked(origin: string): boolean {
    if (this.diskLow) return true;
    const rule = this.rule(origin);
    if (rule.onQuota !== "refuse") return false;
    // decided now, not on the next loop turn: a refusing origin gets not one chunk more
    for (const a of this.accounts(origin)) {
      if (this.refusing.has(a.key)) return true;
      if (this.usage(a) > a.quota) {
        this.evaluate(a);
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
    const rate = this.rule(origin).rate;
    if (rate === null || records === 0) return 0;
    const now = this.nowMs();
    let b = this.buckets.get(origin);
    if (!b) {
      b = { tokens: Math.max(rate, 1), last: now, alertedAt: 0 };
      this.buckets.set(origin, b);
    }
    b.tokens = Math.min(Math.max(rate, 1), b.tokens + ((now - b.last) / 1000) * rate);
    b.last = now;
    b.tokens -= records;
    if (b.tokens >= 0) return 0;
    if (now - b.alertedAt > RATE_ALERT_EVERY_MS) {
      b.alertedAt = now;
      this.alerts.raise({
        kind: "rate-limited",
        origin,
        message: `${origin} sends faster than its limit of ${rate} records/s; the collector slows it down (nothing is dropped)`,
      });
    }
    return Math.ceil((-b.tokens / rate) * 1000);
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
      const now = Date.now();
      if (now - this.reserveCheckedAt > 100) void this.checkReserve();
    });
  }

  // ---- accounting ----

  usageOf(origin: string): number {
    let n = 0;
    for (const w of this.writers.get(origin) ?? []) n += w.diskBytes();
    return n;
  }

  private membersOf(group: string): string[] {
    return [...this.writers.keys()].filter((o) => this.rule(o).group === group);
  }

  /** The quotas that count `origin`: its own, and its group's. */
  private accounts(origin: string): Account[] {
    const rule = this.rule(origin);
    const out: Account[] = [];
    if (rule.quota !== null) {
      out.push({
        key: origin,
        label: { origin },
        quota: rule.quota,
        onQuota: rule.onQuota,
        origins: () => [origin],
      });
    }
    const groups = this.config.groups;
    const gq = rule.group !== null && Object.hasOwn(groups, rule.group) ? groups[rule.group]!.quota : null;
    const group = rule.group;
    if (group !== null && gq !== null) {
      out.push({
        key: `group:${group}`,
        label: { group },
        quota: gq,
        onQuota: rule.onQuota,
        origins: () => this.membersOf(group),
      });
    }
    return out;
  }

  private usage(a: Account): number {
    let n = 0;
    for (const o of a.origins()) n += this.usageOf(o);
    return n;
  }

  private check(origin: string): void {
    if (this.stopped) return;
    for (const a of this.accounts(origin)) this.evaluate(a);
  }

  private evaluate(a: Account): void {
    const used = this.usage(a);
    const before = this.levels.get(a.key) ?? 0;
    // a level goes down only below 80%: drop-oldest keeps an origin just under its quota, and
    // that must not raise an alert at every eviction
    let level = used >= a.quota ? 100 : used >= 0.8 * a.quota ? 80 : 0;
    if (level > 0 && level < before) level = before;
    if (level !== before) {
      this.levels.set(a.key, level);
      this.markState();
      const who = a.label.origin ?? `group ${a.label.group}`;
      // compression and eviction move usage up and down around a threshold: a crossing is
      // alerted once per quarter of an hour per account and level, not each time
      // a burst can pass 80% and 100% in one flush: each level crossed is alerted, in order
      const now = this.nowMs();
      const quiet = (l: number) =>
        now - (this.crossedAt.get(`${a.key}@${l}`) ?? Number.NEGATIVE_INFINITY) < CROSSING_QUIET_MS;
      if (level >= 80 && before < 80 && !quiet(80)) {
        this.crossedAt.set(`${a.key}@80`, now);
        this.alerts.raise({
          kind: "quota-near",
          ...a.label,
          message: `${who} uses ${formatBytes(used)}, ${level === 100 ? "past " : ""}80% of its quota of ${formatBytes(a.quota)}`,
        });
      }
      if (level === 100 && !quiet(100)) {
        this.crossedAt.set(`${a.key}@100`, now);
        this.alerts.raise({
          kind: "quota-reached",
          ...a.label,
          message: `${who} reached its quota of ${formatBytes(a.quota)}; ${a.onQuota === "refuse" ? "its records are refused until space is made" : "its oldest records are removed"}`,
        });
      }
    }
    if (used > a.quota) {
      if (a.onQuota === "drop-oldest") this.evict(a);
      else if (!this.refusing.has(a.key)) {
        this.refusing.add(a.key);
        this.markState();
        this.alerts.raise({
          kind: "refusing",
          ...a.label,
          message: `${a.label.origin ?? `group ${a.label.group}`} is over its quota (${formatBytes(used)} of ${formatBytes(a.quota)}): the collector stops reading it; its sender keeps the records`,
        });
      }
    } else if (this.refusing.delete(a.key)) {
      this.markState();
      this.alerts.raise({
        kind: "accepting",
        ...a.label,
        message: `${a.label.origin ?? `group ${a.label.group}`} is within its quota again; the collector reads it again`,
      });
      this.wake();
    }
  }

  /**
   * drop-oldest: removes the account's oldest segments until it is within its quota. Oldest by
   * first record across all its streams, sealed or active (an idle origin's active segment may
   * hold the group's oldest records); only the segment being written with the newest records
   * may stay, up to one segment over the quota.
   */
  private evict(a: Account): void {
    if (this.evicting.has(a.key)) return;
    const run = (async () => {
      const waited = new Set<SegmentMeta>(); // waited for once already: not compressed (an error)
      while (!this.stopped && this.usage(a) > a.quota) {
        // sealed segments waiting for compression count at their plain size: in a burst there
        // are many, and evicting for all of them would leave the account far under its quota
        // once they are compressed (a 1 MiB quota kept 81 KiB). While compressing them could
        // bring it within the quota, wait for that rather than remove older records.
        const pending = this.awaitingCompression(a, waited);
        if (pending.bytes > 0 && this.usage(a) - a.quota <= pending.bytes) {
          for (const m of pending.metas) waited.add(m);
          await this.store.compressionIdle();
          continue;
        }
        const pick = this.oldestSegment(a.origins());
        // an object older than the oldest segment goes first (blob streams)
        const obj = this.oldestObject(a.origins());
        // (or when the oldest segment is the one being written: a blob stream's records are few)
        if (obj && (!pick || !pick.sealed || obj.time <= pick.first)) {
          const info = await obj.writer.objects!.removeOldest();
          if (info) {
            this.recordObjectEviction(obj.writer, info, "quota", a);
            const e = this.evictedSince.get(a.key) ?? { at: 0, records: 0, segments: 0, bytes: 0 };
            e.segments++;
            e.bytes += info.stored;
            this.evictedSince.set(a.key, e);
            continue;
          }
        }
        if (!pick) break;
        const w = pick.writer;
        if (!pick.sealed) {
          const slack = this.usage(a) <= a.quota + this.store.options.maxSegmentBytes;
          if (slack && pick.newest) break;
          await w.requestSeal();
          if (w.sealed.length === 0) break; // not sealed (a write error): try again later
        }
        const meta = await w.removeOldestSealed();
        if (!meta) break;
        this.recordEviction(w, meta, "quota", a);
        await this.evictObjectsOf(w, meta, "quota", a);
        const e = this.evictedSince.get(a.key) ?? { at: 0, records: 0, segments: 0, bytes: 0 };
        e.records += meta.records;
        e.segments++;
        e.bytes += meta.bytes;
        this.evictedSince.set(a.key, e);
      }
      this.reportEvictions(a, false);
    })().finally(() => {
      this.evicting.delete(a.key);
      // more may have arrived meanwhile
      for (const o of a.origins()) this.noteAppend(o);
    });
    this.evicting.set(a.key, run);
  }

  /** Sealed segments of the account still to be compressed (not yet waited for) and their bytes. */
  private awaitingCompression(a: Account, waited: Set<SegmentMeta>): { metas: SegmentMeta[]; bytes: number } {
    const metas: SegmentMeta[] = [];
    let bytes = 0;
    if (!this.store.options.compress) return { metas, bytes };
    for (const o of a.origins())
      for (const w of this.writers.get(o) ?? [])
        for (const m of w.sealed)
          if (!m.compressed && !waited.has(m)) {
            metas.push(m);
            bytes += m.bytes;
          }
    return { metas, bytes };
  }

  /** One `evicted` alert per account a minute at most, summing what went since the last. */
  private reportEvictions(a: Account, force: boolean): void {
    const e = this.evictedSince.get(a.key);
    if (!e || e.segments === 0) return;
    const now = this.nowMs();
    if (!force && now - e.at < RATE_ALERT_EVERY_MS) return;
    this.evictedSince.set(a.key, { at: now, records: 0, segments: 0, bytes: 0 });
    this.markState();
    this.alerts.raise({
      kind: "evicted",
      ...a.label,
      message: `removed ${e.records} records (${e.segments} segments, ${formatBytes(e.bytes)}) of ${a.label.origin ?? `group ${a.label.group}`}, the oldest, to stay within its quota of ${formatBytes(a.quota)}`,
    });
  }

  /** The segment with the oldest first record among these origins' streams. */
  private oldestSegment(
    origins: string[],
  ): { writer: StreamWriter; sealed: boolean; newest: boolean; first: string } | null {
    let best: { writer: StreamWriter; sealed: boolean; first: string } | null = null;
    let newestWriter: StreamWriter | null = null;
    let newestTime = "";
    for (const o of origins) {
      for (const w of this.writers.get(o) ?? []) {
        const m = w.sealed[0];
        const first = m ? m.firstTime : w.activeBytes > 0 ? w.activeFirstTime : null;
        if (first !== null && (best === null || first < best.first)) best = { writer: w, sealed: !!m, first };
        const last = w.activeBytes > 0 ? w.activeLastTime : (w.sealed.at(-1)?.lastTime ?? "");
        if (last > newestTime) {
          newestTime = last;
          newestWriter = w;
        }
      }
    }
    return best
      ? { writer: best.writer, sealed: best.sealed, newest: best.writer === newestWriter, first: best.first }
      : null;
  }

  /** The object announced first among these origins' streams (blob streams), if any. */
  private oldestObject(origins: string[]): { writer: StreamWriter; time: string } | null {
    let best: { writer: StreamWriter; time: string } | null = null;
    for (const o of origins) {
      for (const w of this.writers.get(o) ?? []) {
        const first = w.objects?.oldest();
        if (first && (best === null || first.time < best.time)) best = { writer: w, time: first.time };
      }
    }
    return best;
  }

  /**
   * An object lives as long as its `!blob` record: when a segment goes, so do the objects its
   * records announced (each with its own `!evict`).
   */
  private async evictObjectsOf(
    w: StreamWriter,
    m: SegmentMeta,
    reason: "quota" | "retention",
    a?: Account,
  ): Promise<void> {
    for (let o = w.objects?.oldest(); o && o.seq <= m.lastSeq; o = w.objects?.oldest()) {
      const info = await w.objects!.removeOldest();
      if (!info) break;
      this.recordObjectEviction(w, info, reason, a);
    }
  }

  /** `!evict` for one object: which one (seq of its `!blob`, SHA-256), and why. */
  private recordObjectEviction(
    w: StreamWriter,
    o: ObjectInfo,
    reason: "quota" | "retention",
    a?: Account,
  ): void {
    const group = a?.label.group ? ` group=${a.label.group}` : "";
    try {
      w.appendCollector("evict", `reason=${reason}${group} ${objectFields(o)}`);
    } catch {
      // the store is closing; the object is gone either way
    }
  }

  private recordEviction(w: StreamWriter, m: SegmentMeta, reason: "quota" | "retention", a?: Account): void {
    const group = a?.label.group ? ` group=${a.label.group}` : "";
    try {
      w.appendCollector("evict", `reason=${reason}${group} ${segmentFields(m)}`);
    } catch {
      // the store is closing; the segment is gone either way
    }
  }

  // ---- retention ----

  private retentionEveryMs(): number {
    return 60_000;
  }

  /** Removes sealed segments whose newest record is older than the origin's retention. */
  async runRetention(): Promise<void> {
    const now = this.nowMs();
    for (const [origin, writers] of this.writers) {
      const keep = this.rule(origin).retentionMs;
      if (keep === null) continue;
      const cutoffUs = (now - keep) * 1000;
      let records = 0;
      for (const w of writers) {
        while (!this.stopped && w.sealed[0] && parseTime(w.sealed[0].lastTime) < cutoffUs) {
          const meta = await w.removeOldestSealed();
          if (!meta) break;
          records += meta.records;
          this.recordEviction(w, meta, "retention");
          await this.evictObjectsOf(w, meta, "retention");
        }
        // objects announced before the cutoff
        for (
          let o = w.objects?.oldest();
          !this.stopped && o && parseTime(o.time) < cutoffUs;
          o = w.objects?.oldest()
        ) {
          const info = await w.objects!.removeOldest();
          if (!info) break;
          records++;
          this.recordObjectEviction(w, info, "retention");
        }
        // an active segment whose first record is already too old is sealed, to go next time
        const first = w.activeFirstTimeUs();
        if (first !== null && first < cutoffUs) void w.requestSeal();
      }
      if (records > 0) {
        this.markState();
        this.alerts.raise({
          kind: "retention",
          origin,
          message: `removed ${records} records of ${origin} older than its retention of ${Math.round(keep / 86400_000) >= 1 ? `${Math.round(keep / 86400_000)} days` : `${Math.round(keep / 1000)} s`}`,
        });
        this.noteAppend(origin);
      }
    }
  }

  // ---- the disk reserve ----

  private reserveCheckedAt = 0;

  async checkReserve(): Promise<void> {
    this.reserveCheckedAt = Date.now();
    let free: number;
    try {
      const st = await statfs(this.store.root);
      free = st.bavail * st.bsize;
    } catch {
      return;
    }
    this.freeBytes = free;
    const min = this.config.minFree;
    if (!this.diskLow && free < min) {
      this.diskLow = true;
      this.markState();
      this.alerts.raise({
        kind: "disk-reserve",
        message: `only ${formatBytes(free)} free on the store's filesystem, below the reserve of ${formatBytes(min)}: the collector takes nothing new until space returns`,
      });
    } else if (this.diskLow && free >= min) {
      this.diskLow = false;
      this.markState();
      this.alerts.raise({
        kind: "disk-ok",
        message: `${formatBytes(free)} free again: the collector reads every origin again`,
      });
      this.wake();
    }
    // refusing accounts are rechecked here too: space may have been made by hand or retention
    for (const key of this.refusing) {
      const origin = key.startsWith("group:") ? this.membersOf(key.slice(6))[0] : key;
      if (origin) this.noteAppend(origin);
    }
    // held sessions look again once a second at most, whatever changed
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  // ---- state for `logward ls` ----

  stateOf(origin: string): QuotaState {
    const accounts = this.accounts(origin);
    if (accounts.some((a) => this.refusing.has(a.key)) || this.diskLow) return "refusing";
    const level = Math.max(0, ...accounts.map((a) => this.levels.get(a.key) ?? 0));
    return level >= 100 ? "at quota" : level >= 80 ? "near quota" : "ok";
  }

  private stateTimer: NodeJS.Timeout | null = null;
  /** The origins part of the state file last written. */
  private stateShown = "";

  /** Something `ls` shows changed: write the state file soon (at most five times a second). */
  private markState(): void {
    this.stateDue = true;
    if (this.stateTimer || this.stopped) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = null;
      void this.writeState();
    }, 200);
    this.stateTimer.unref();
  }

  /** Every origin's quota state and use now (the web UI; `ls` reads the file writeState writes). */
  snapshot(): {
    updated: string;
    disk: { free: number; low: boolean };
    origins: Record<string, { state: QuotaState; bytes: number; quota: number | null; group: string | null }>;
  } {
    const origins: Record<
      string,
      { state: QuotaState; bytes: number; quota: number | null; group: string | null }
    > = {};
    for (const o of this.writers.keys()) {
      const rule = this.rule(o);
      origins[o] = { state: this.stateOf(o), bytes: this.usageOf(o), quota: rule.quota, group: rule.group };
    }
    return {
      updated: new Date(this.nowMs()).toISOString(),
      disk: { free: this.freeBytes, low: this.diskLow },
      origins,
    };
  }

  /** Writes <store>/run/policy.json (what `ls` shows) when something changed. */
  async writeState(force = false): Promise<void> {
    const doc = this.snapshot();
    // the bytes change without a state change too (eviction, compression): `ls` shows them
    const shown = JSON.stringify(doc.origins);
    if (!this.stateDue && !force && shown === this.stateShown) return;
    this.stateDue = false;
    this.stateShown = shown;
    await writeFileAtomic(join(this.store.root, "run", "policy.json"), `${JSON.stringify(doc)}\n`).catch(
      () => {},
    );
  }

  async stop(): Promise<void> {
    // a last look at every quota, so that what the last sessions added is within it
    for (const o of this.writers.keys()) this.check(o);
    await Promise.all(this.evicting.values());
    for (const o of this.writers.keys()) for (const a of this.accounts(o)) this.reportEvictions(a, true);
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.stateTimer) clearTimeout(this.stateTimer);
    await Promise.all(this.evicting.values());
    await this.writeState(true);
    this.wake();
  }
}
