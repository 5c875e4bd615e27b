// Who may open a session now: at most maxSessions sessions at once (opening ones count), and
// maxSessionsPerOrigin of one origin (idle ones count), so one origin cannot take every slot;
// none while the collector stops or the policy takes nothing from the origin. And one
// resumable session (journal, agent) per origin/stream: a sender that reconnects replaces its
// old session, whose records are durable before the new one reads its resume point.

/** A connection turned away before it became a session; `kind` groups repeats of it. */
export class Refusal extends Error {
  readonly kind: string;
  readonly origin: string | null;
  constructor(kind: string, origin: string | null, message: string) {
    super(message);
    this.kind = kind;
    this.origin = origin;
  }
}

/** The session limits (`[collector]`), fixed at start. */
export interface SessionLimits {
  readonly maxSessions: number;
  readonly maxSessionsPerOrigin: number;
}

/** A live resumable session, as far as a newcomer replacing it is concerned. */
export interface Replaceable {
  end(reason: string): Promise<unknown>;
}

export class Admission {
  private readonly limits: SessionLimits;
  /** Sessions of each origin, open or opening. */
  private readonly perOrigin = new Map<string, number>();
  /** Sessions being opened now (admitted, not yet open). */
  private opening = 0;
  /** The live resumable session of each origin/stream, and the turn of the next one to open. */
  readonly resumable = new Map<string, Replaceable>();
  private readonly turns = new Map<string, Promise<void>>();

  constructor(limits: SessionLimits) {
    this.limits = limits;
  }

  /**
   * Admits a session of `origin` (`key`: origin/stream) or throws a Refusal. `open` is the
   * number of open sessions. Once admitted it counts as opening until opened() and against its
   * origin until left().
   */
  admit(
    origin: string,
    key: string,
    resumable: boolean,
    open: number,
    stopping: boolean,
    blocked: (origin: string) => boolean,
  ): void {
    // an origin's own cap first (idle sessions count): one origin cannot take every slot; a
    // sender reconnecting a resumable stream replaces its old session, so that one is not counted
    const mine = this.perOrigin.get(origin) ?? 0;
    const replaces = resumable && this.resumable.has(key) ? 1 : 0;
    if (mine - replaces >= this.limits.maxSessionsPerOrigin) {
      throw new Refusal(
        "origin-sessions",
        origin,
        `too many sessions from origin ${origin} (limit ${this.limits.maxSessionsPerOrigin} per origin)`,
      );
    }
    // count sessions still opening too: opening awaits, and others may arrive meanwhile
    if (open + this.opening >= this.limits.maxSessions) {
      throw new Refusal(
        "too-many-sessions",
        origin,
        `too many sessions (limit ${this.limits.maxSessions}); origin ${origin} refused`,
      );
    }
    if (stopping) throw new Refusal("shutdown", origin, "the collector is shutting down");
    // even an empty session writes its !open and !close: none while the origin may not write
    if (blocked(origin)) {
      throw new Refusal(
        "blocked",
        origin,
        `the collector takes nothing from origin ${origin} now (its quota with on_quota = "refuse", or the disk reserve); the sender should keep its records and try again later`,
      );
    }
    this.perOrigin.set(origin, mine + 1);
    this.opening++;
  }

  /** An admitted session is open now (or failed to open). */
  opened(): void {
    this.opening--;
  }

  /** A session of `origin` (open or opening) is gone. */
  left(origin: string): void {
    const n = (this.perOrigin.get(origin) ?? 1) - 1;
    if (n > 0) this.perOrigin.set(origin, n);
    else this.perOrigin.delete(origin);
  }

  /**
   * One resumable session per origin/stream: a new one (the sender reconnected) ends the old
   * one first, and its resume point is read only after everything the old one sent is
   * durable. Newcomers queue; returns the function that lets the next one in.
   */
  async takeTurn(key: string): Promise<() => void> {
    const before = this.turns.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const chained = before.then(() => mine);
    this.turns.set(key, chained);
    void chained.then(() => {
      if (this.turns.get(key) === chained) this.turns.delete(key);
    });
    await before;
    const old = this.resumable.get(key);
    if (old) await old.end("replaced by a new session of the same origin and stream");
    return release;
  }
}
