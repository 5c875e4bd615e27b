// Progress for long work (export, verify-export, search) on a terminal: one line on stderr,
// redrawn at most ten times a second, erased at the end. Nothing at all when stderr is not a
// terminal, so pipes and scripts see only the result.

const REDRAW_MS = 100;

export class Progress {
  private readonly label: string;
  private readonly total: number;
  private readonly unit: (n: number) => string;
  private readonly tty: boolean;
  private done = 0;
  private drawnAt = 0;

  constructor(
    label: string,
    total: number,
    unit: (n: number) => string = String,
    tty = process.stderr.isTTY === true,
  ) {
    this.label = label;
    this.total = total;
    this.unit = unit;
    this.tty = tty;
  }

  /** Adds `n` to what is done and redraws if it is time. */
  add(n: number): void {
    this.done += n;
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.drawnAt < REDRAW_MS) return;
    this.drawnAt = now;
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const width = 24;
    const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
    const cols = process.stderr.columns ?? 80;
    const line = `${this.label} [${bar}] ${Math.floor(frac * 100)}% ${this.unit(this.done)}/${this.unit(this.total)}`;
    process.stderr.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
  }

  /** Erases the line (the result is printed by the caller). */
  end(): void {
    if (this.tty && this.drawnAt > 0) process.stderr.write("\r\x1b[K");
  }
}
