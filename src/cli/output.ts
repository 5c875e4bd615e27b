// A quiet exit when the reader of process.stdout goes away (`logward get … | head`), for a
// command that writes to process.stdout itself. The readers write through src/query/emit.ts's
// Output, whose StandardOutput does the same on descriptor 1.

/** Makes a closed pipe end the process quietly instead of with an EPIPE stack trace. */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
