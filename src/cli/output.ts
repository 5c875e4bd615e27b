// Buffered writing to stdout with backpressure, and a quiet exit when the reader goes away
// (`logward show | head`). Bytes are copied in, because the blocks readers hand out are reused.

const FLUSH_AT = 256 * 1024;

export class Output {
  private readonly stream: NodeJS.WritableStream;
  private buf = Buffer.allocUnsafe(FLUSH_AT * 2);
  private len = 0;

  constructor(stream: NodeJS.WritableStream = process.stdout) {
    this.stream = stream;
  }

  get isTTY(): boolean {
    return (this.stream as { isTTY?: boolean }).isTTY === true;
  }

  /** Queues text or bytes; returns a promise only when the pipe is slow and the buffer full. */
  write(part: string | Uint8Array, start = 0, end = part.length): Promise<void> | undefined {
    const need = typeof part === "string" ? Buffer.byteLength(part) : end - start;
    if (this.len + need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + need));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    if (typeof part === "string") this.len += this.buf.write(part, this.len);
    else {
      this.buf.set(part.subarray(start, end), this.len);
      this.len += need;
    }
    return this.len >= FLUSH_AT ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    if (this.len === 0) return;
    const chunk = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(FLUSH_AT * 2, this.buf.length));
    this.len = 0;
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve) => this.stream.once("drain", resolve));
    }
  }
}

/** Makes a closed pipe end the process quietly instead of with an EPIPE stack trace. */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
