// The global free-space reserve: below `min_free` free bytes on the store's filesystem the
// collector takes nothing new from anyone (backpressure, never a drop) until space returns.
// Each crossing raises one alert (`disk-reserve`, then `disk-ok`).

import { statfs } from "node:fs/promises";
import { formatBytes } from "../config/units.ts";
import type { Alert } from "./alerts.ts";

/** The reserve is looked at on a timer this often, and more often while records arrive. */
export const RESERVE_CHECK_MS = 1000;
/** While records arrive, the free space is looked at after this long (ten times a second). */
const RESERVE_CHECK_BUSY_MS = 100;

export class DiskReserve {
  /** True while the free space is below the reserve. */
  low = false;
  /** Free bytes at the last look (unknown before the first: infinite). */
  free = Number.POSITIVE_INFINITY;
  private checkedAt = 0;
  private readonly root: string;
  private readonly raise: (a: Alert) => void;
  private readonly nowMs: () => number;
  /** Something `ls` shows changed. */
  private readonly changed: () => void;

  constructor(root: string, raise: (a: Alert) => void, nowMs: () => number, changed: () => void) {
    this.root = root;
    this.raise = raise;
    this.nowMs = nowMs;
    this.changed = changed;
  }

  /** True when records arrive and the last look is older than a tenth of a second. */
  get due(): boolean {
    return this.nowMs() - this.checkedAt > RESERVE_CHECK_BUSY_MS;
  }

  /** Looks at the free space against `minFree`; false when it could not be read. */
  async check(minFree: number): Promise<boolean> {
    this.checkedAt = this.nowMs();
    let free: number;
    try {
      const st = await statfs(this.root);
      free = st.bavail * st.bsize;
    } catch {
      return false;
    }
    this.free = free;
    if (!this.low && free < minFree) {
      this.low = true;
      this.changed();
      this.raise({
        kind: "disk-reserve",
        message: `only ${formatBytes(free)} free on the store's filesystem, below the reserve of ${formatBytes(minFree)}: the collector takes nothing new until space returns`,
      });
    } else if (this.low && free >= minFree) {
      this.low = false;
      this.changed();
      this.raise({
        kind: "disk-ok",
        message: `${formatBytes(free)} free again: the collector reads every origin again`,
      });
    }
    return true;
  }
}
