import { execFile } from "node:child_process";
import { Collector } from "../collector/collector.ts";
import { loadConfig } from "../collector/config.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const SERVE_HELP = `Usage: logward serve [--store DIR] [--config FILE]

Runs the collector in the foreground: the one writer of the store. Listens on the relay
socket <store>/run/ingest.sock (for 'logward ingest', the qrexec exec services) and on any
qrexec socket-service paths in the configuration. Prints a line with "ready" once it accepts
connections and, under systemd (NOTIFY_SOCKET set), notifies READY=1. SIGTERM or SIGINT:
stops accepting, makes everything received durable, exits 0.

Options:
  --store DIR     the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                  else ~/.local/share/logward)
  --config FILE   TOML configuration (see docs/PROTOCOL.md); embedded defaults without it
  -h, --help      show this help
`;

/** Tells systemd we are ready (Type=notify, NotifyAccess=all); Node has no Unix datagram socket. */
function notifySystemd(): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile("systemd-notify", ["--ready", `--pid=${process.pid}`], (err) => {
    if (err) process.stderr.write(`logward: could not notify systemd (systemd-notify: ${err.message}).\n`);
  });
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "serve",
    args,
    { store: { type: "string" }, config: { type: "string" } },
    { min: 0, max: 0 },
  );
  const root = storePath(values.store);
  const config = loadConfig(root, values.config);
  const collector = await Collector.start(root, config);
  const fatal = new Promise<number>((resolve) => {
    collector.store.once("fatal", (err: Error) => {
      process.stderr.write(`logward: the store failed and the collector stops: ${err.message}\n`);
      resolve(1);
    });
  });
  process.on("SIGHUP", () => {
    const ok = collector.reload(values.config);
    collector.event("sighup", {
      action: ok ? "configuration reloaded" : "reload failed, previous configuration kept",
    });
  });
  // the handlers first, then "ready": a SIGTERM right after "ready" must still stop cleanly
  const stopped = new Promise<number>((resolve) => {
    const stop = () => {
      void collector.stop().then(
        () => resolve(0),
        (err: Error) => {
          process.stderr.write(`logward: error while stopping: ${err.message}\n`);
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  process.stdout.write(`logward: ready, store ${root}, relay socket ${config.socket}\n`);
  notifySystemd();
  return Promise.race([stopped, fatal]);
}
