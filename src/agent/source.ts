// What every sender source sees: a host that takes records into the spool, remembers where the
// source stands (committed with the records, so a restart neither repeats nor skips), and says
// when to wait (the spool's unwritten buffer is full).

export interface SourceHost {
  /**
   * One record (copied before the call returns). `unterminated`: no LF followed it (a file's
   * last line, read at --once's end or when the file was rotated away; stdin's last line).
   */
  record(payload: Uint8Array, unterminated?: boolean): void;
  /** Where the source stands after the records given so far. */
  setPosition(key: string, position: unknown): void;
  /** The position committed by an earlier run, if any. */
  position(key: string): unknown;
  whenWritable(): Promise<void>;
  warn(message: string): void;
}

export interface Source {
  readonly key: string;
  /** Reads until stopped; with `once`, until everything available now has been read. */
  run(once: boolean): Promise<void>;
  stop(): void;
}

/** Backoff for restarting a command or reconnecting: doubling from `min`, with jitter. */
export function backoff(attempt: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}
