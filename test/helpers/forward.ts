// The channel command of a `logward` output in tests: `logward ingest --format agent` into the
// receiving collector's store, run the way qrexec would run it for a call from the log qube
// `logvm1`, to the stream the output names in $LOGWARD_STREAM. `slow`: through slow-pipe.ts
// (50 KB/s), so that a test can kill a collector while records are on their way.

import { join } from "node:path";
import { BIN } from "./cli.ts";

export function forwardCommand(receiverStore: string, from = "logvm1", slow = false): string {
  const pipe = slow ? `'${process.execPath}' '${join(import.meta.dirname, "slow-pipe.ts")}' 2048 40 | ` : "";
  return `${pipe}QREXEC_REMOTE_DOMAIN=${from} QREXEC_SERVICE_ARGUMENT="$LOGWARD_STREAM" '${process.execPath}' '${BIN}' ingest --format agent --store '${receiverStore}'`;
}
