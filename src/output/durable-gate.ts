// What an output may send: only records that are durable (fsync'd). The reader follows the files
// (inotify), so it can see a record the writer wrote but has not fdatasync'd yet; sent then, a
// power loss could take it from the store after a receiver got it, and its seq would be given to
// another record, which a receiver that recognises resent records by seq would then drop. So the
// collector tells the outputs each stream's durable seq after every group commit (store.ts's
// "durable" event, through outputs.ts), and the runner waits for it before sending a record.
// A stream with no news since the outputs started is durable up to where it ended then (the
// outputs start before the collector takes any session, so that end is what was recovered).

export class DurableGate {
  private readonly seqs = new Map<string, number>();
  private initial: ReadonlyMap<string, number> = new Map();
  private readonly waiters = new Map<string, { seq: number; resolve: () => void }[]>();

  /** "ORIGIN/STREAM" -> its last seq when the outputs started (before any runner waits). */
  setStart(ends: ReadonlyMap<string, number>): void {
    this.initial = ends;
  }

  /** The last durable seq of a stream as far as the outputs know. */
  bound(key: string): number {
    return this.seqs.get(key) ?? this.initial.get(key) ?? 0;
  }

  /** A group commit made `key` durable up to `seq`. */
  note(key: string, seq: number): void {
    if (seq <= this.bound(key)) return;
    this.seqs.set(key, seq);
    const list = this.waiters.get(key);
    if (!list) return;
    const still = list.filter((w) => w.seq > seq);
    for (const w of list) if (w.seq <= seq) w.resolve();
    if (still.length > 0) this.waiters.set(key, still);
    else this.waiters.delete(key);
  }

  /** Null when `seq` of `key` is durable now, else a promise resolved once it is. */
  wait(key: string, seq: number): Promise<void> | null {
    if (seq <= this.bound(key)) return null;
    return new Promise((resolve) => {
      const list = this.waiters.get(key) ?? [];
      list.push({ seq, resolve });
      this.waiters.set(key, list);
    });
  }
}
