// A quiet exit when the reader of stdout goes away (`logward show | head`). The buffered writer
// itself is src/query/emit.ts (the web UI writes with it too).

/** Makes a closed pipe end the process quietly instead of with an EPIPE stack trace. */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}
