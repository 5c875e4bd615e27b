import { createReadStream, fstatSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { LogwardError } from "../errors.ts";
import { isValidName } from "../store/names.ts";
import { FramingError } from "../wire/framer.ts";
import {
  encodeBlobEnd,
  encodeFrame,
  encodeRelayHeader,
  FORMATS,
  type Format,
  FRAME_DATA,
  FrameDecoder,
  MAX_FRAME_BYTES,
  type RelayEnd,
} from "../wire/relay.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const INGEST_HELP = `Usage: logward ingest --format lines|octets|journal|agent|blob [--store DIR]

The program a Qubes exec service runs (/etc/qubes-rpc/logward.Lines and friends). The origin
is QREXEC_REMOTE_DOMAIN, set by dom0; the stream is QREXEC_SERVICE_ARGUMENT (default "main").
Relays standard input to the running 'logward serve' of the store and exits 0 only after the
collector has confirmed that everything relayed is durable. Writes nothing to standard output
unless the format's sender asked for it.

Options:
  --format F    lines (LF-terminated), octets (RFC 6587 octet counting), journal, agent, or
                blob (all of standard input is one opaque object: EVTX, BSM, pcap, ...,
                stored whole, compressed and content-addressed; 'logward get' returns it)
  --store DIR   the store whose collector to relay to (default: $LOGWARD_STORE, else
                /var/lib/logward for root, else ~/.local/share/logward)
  -h, --help    show this help
`;

/**
 * blob: stdin's bytes as data frames, then the end frame with the total once stdin ends, so
 * the collector can tell a complete object from one whose ingest was killed midway. On the
 * qrexec exec path stdin's EOF is all qrexec gives: it shuts down the service's stdin both when
 * the caller sent EOF and when the caller's vchan closed early (libqrexec/process_io.c,
 * qrexec_process_io: "vchan connection closed early", then close_stdin()), so a caller that
 * died midway cannot be told apart here; docs/PROTOCOL.md says what can be detected.
 */
async function relayBlob(input: NodeJS.ReadableStream, socket: import("node:net").Socket): Promise<void> {
  let total = 0;
  // the collector's answer came (a refusal midway): not one more byte, and no end frame
  const over = () => socket.destroyed || socket.writableEnded;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length; off += MAX_FRAME_BYTES) {
        if (over()) return;
        const part = chunk.subarray(off, off + MAX_FRAME_BYTES);
        total += part.length;
        if (!socket.write(encodeFrame(FRAME_DATA, part))) {
          await new Promise<void>((resolve) => {
            const done = () => {
              socket.off("drain", done);
              socket.off("close", done);
              socket.off("finish", done);
              resolve();
            };
            socket.on("drain", done);
            socket.on("close", done);
            socket.on("finish", done);
          });
        }
      }
    }
  } catch {
    return; // stdin failed: no end frame, so the collector stores nothing
  }
  if (!over()) socket.end(encodeBlobEnd(total));
}

export async function ingestCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "ingest",
    args,
    { format: { type: "string" }, store: { type: "string" } },
    { min: 0, max: 0 },
  );
  const format = values.format as Format | undefined;
  if (!format || !FORMATS.includes(format)) {
    throw new LogwardError(
      "LW_USAGE",
      `--format must be one of ${FORMATS.join(", ")}; see 'logward ingest --help'.`,
    );
  }
  const origin = process.env.QREXEC_REMOTE_DOMAIN;
  if (!origin || !isValidName(origin)) {
    throw new LogwardError(
      "LW_NO_ORIGIN",
      origin
        ? "QREXEC_REMOTE_DOMAIN is not a valid VM name; logward ingest must be run by qrexec as an exec service."
        : "QREXEC_REMOTE_DOMAIN is not set; logward ingest must be run by qrexec as an exec service (see packaging/qubes/).",
    );
  }
  const stream = process.env.QREXEC_SERVICE_ARGUMENT || "main";
  if (!isValidName(stream)) {
    throw new LogwardError(
      "LW_BAD_NAME",
      "The service argument is not a valid stream name: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit.",
    );
  }
  const socketPath = join(storePath(values.store), "run", "ingest.sock");
  const socket = connect({ path: socketPath, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "ENOENT" || err.code === "ECONNREFUSED"
          ? new LogwardError(
              "LW_NO_COLLECTOR",
              `No collector is running for this store (nothing listens on ${socketPath}); start 'logward serve'.`,
            )
          : new LogwardError(
              "LW_NO_COLLECTOR",
              `Cannot connect to the collector at ${socketPath}: ${err.message}.`,
            ),
      );
    });
  });
  socket.write(encodeRelayHeader({ format, origin, stream }));
  // backpressure: stdin is read only as fast as the collector takes it. A regular file (as in
  // `ingest < file`) is read in 1 MiB chunks: a sixteenth of the reads and wake-ups of stdin's
  // 64 KiB (npm run bench); a pipe or socket delivers at most its buffer per read anyway.
  const input = fstatSync(0).isFile()
    ? createReadStream("", { fd: 0, highWaterMark: 1024 * 1024, autoClose: false })
    : process.stdin;
  if (format === "blob") void relayBlob(input, socket);
  else input.pipe(socket);
  let end: RelayEnd | null = null;
  const decoder = new FrameDecoder((type, payload) => {
    if (type === FRAME_DATA) process.stdout.write(payload);
    else {
      end = JSON.parse(payload.toString()) as RelayEnd;
      // the collector's last word (an answer before the end of stdin is a refusal): stop
      // sending, so that no write of ours fails on a connection the collector then closes
      input.unpipe(socket);
      if (!socket.writableEnded) socket.end();
    }
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk);
    } catch (err) {
      socket.destroy(err instanceof FramingError ? err : new Error(String(err)));
    }
  });
  // the collector ends its side only after its last frame, or because it died: either way
  // the session is over, even if the sender is still waiting for a reply that will not come
  socket.on("end", () => socket.destroy());
  await new Promise<void>((resolve) => {
    socket.on("close", () => resolve());
    socket.on("error", () => {});
  });
  input.unpipe(socket);
  input.destroy();
  const result = end as RelayEnd | null;
  if (!result) {
    throw new LogwardError(
      "LW_NOT_DURABLE",
      "The collector closed the connection before confirming that the records are durable; the sender should send them again.",
    );
  }
  if (!result.ok) {
    throw new LogwardError("LW_NOT_DURABLE", `The collector ended the session: ${result.message}.`);
  }
  return 0;
}
