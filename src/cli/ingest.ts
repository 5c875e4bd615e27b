import { fstatSync } from "node:fs";
import { LogwardError } from "../errors.ts";
import { ingestSocketPath } from "../store/layout.ts";
import { isValidName } from "../store/names.ts";
import { type RelayInput, relayToCollector } from "../wire/collector-client.ts";
import { FORMATS, type Format } from "../wire/relay.ts";
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
  const socketPath = ingestSocketPath(storePath(values.store));
  // backpressure: stdin is read only as fast as the collector takes it, by its descriptor into
  // reused buffers (collector-client.ts): a regular file (as in `ingest < file`, npm run bench)
  // in 1 MiB reads, a sixteenth of the reads and wake-ups of stdin's 64 KiB; a pipe or socket
  // (qrexec's socketpair) as much as it holds at each read. Anything else (a terminal) through
  // process.stdin.
  const stdin = (): RelayInput => {
    const st = fstatSync(0);
    if (st.isFile()) return { kind: "file", fd: 0 };
    if (st.isFIFO() || st.isSocket()) return { kind: "pipe", fd: 0 };
    return process.stdin;
  };
  await relayToCollector(socketPath, { format, origin, stream }, stdin, (bytes) =>
    process.stdout.write(bytes),
  );
  return 0;
}
