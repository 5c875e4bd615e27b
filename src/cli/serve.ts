import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { Collector } from "../collector/collector.ts";
import { loadConfig } from "../config/load.ts";
import type { CollectorConfig } from "../config/types.ts";
import { LogwardError } from "../errors.ts";
import { uiUrlPath } from "../store/layout.ts";
import { startUi, type UiServer } from "../ui/server.ts";
import { parse } from "./args.ts";
import { warn } from "./run.ts";
import { storePath } from "./store-path.ts";

export const SERVE_HELP = `Usage: logward serve [--store DIR] [--config FILE] [--allow-root]

Runs the collector in the foreground: the one writer of the store. Listens on the relay
socket <store>/run/ingest.sock (for 'logward ingest', the qrexec exec services) and on any
qrexec socket-service paths in the configuration, and serves the web UI on 127.0.0.1
([ui] port, default 8640; its address with the access token is written to <store>/run/ui-url,
readable only by the owner, and printed when stdout is a terminal). Prints a line with "ready"
once it accepts connections and, under systemd (NOTIFY_SOCKET set), notifies READY=1.
SIGTERM or SIGINT: stops accepting, makes everything received durable, exits 0.

Options:
  --store DIR     the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                  else ~/.local/share/logward)
  --config FILE   TOML configuration (every key: docs/CONFIG.md); embedded defaults without it
  --allow-root    run even as root (refused by default: the collector parses what possibly
                  compromised machines send; run it as the packaged 'logward' user instead)
  -h, --help      show this help
`;

/**
 * Refuses root unless `--allow-root`: the collector parses bytes from machines that may be
 * compromised, so a flaw in it must not own the log qube (docs/SECURITY.md, "Least privilege").
 */
function refuseRoot(allowRoot: boolean): void {
  if (allowRoot || process.getuid?.() !== 0) return;
  throw new LogwardError(
    "LW_ROOT",
    "logward serve refuses to run as root, because a flaw in the collector, which parses what possibly compromised machines send, would then control this whole machine; run it as the packaged 'logward' user (the systemd unit does: User=logward), or pass --allow-root to run as root anyway.",
  );
}

/** How long a collector whose store failed may take to drop its connections before it exits. */
const FATAL_GRACE_MS = 2000;

/** Tells systemd we are ready (Type=notify, NotifyAccess=all); Node has no Unix datagram socket. */
function notifySystemd(): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile("systemd-notify", ["--ready", `--pid=${process.pid}`], (err) => {
    if (err) warn(`logward: could not notify systemd (systemd-notify: ${err.message}).`);
  });
}

/**
 * The web UI on 127.0.0.1 (`[ui] port`, or $LOGWARD_UI_PORT: a port, 0 for any, "off"). Its
 * address, with the access token, also goes to <store>/run/ui-url (0600). A port in use is
 * reported and recorded; collecting goes on without the UI.
 */
async function startWebUi(
  root: string,
  config: CollectorConfig,
  collector: Collector,
): Promise<UiServer | null> {
  const env = process.env.LOGWARD_UI_PORT;
  let port = config.uiPort;
  if (env !== undefined && env !== "") {
    if (env === "off") port = null;
    else if (/^\d{1,5}$/.test(env) && Number(env) <= 65535) port = Number(env);
    else
      throw new LogwardError(
        "LW_USAGE",
        "LOGWARD_UI_PORT must be a port number (0 for any free one) or 'off'.",
      );
  }
  if (port === null) return null;
  try {
    const ui = await startUi(
      {
        root,
        liveStreams: () => collector.liveStreams(),
        remove: (req) => collector.remove(req),
        policy: () => collector.policySnapshot(),
        // read at each use: a SIGHUP may change them (Collector.reload)
        get viewers() {
          return collector.config.viewers;
        },
        searchTimeoutMs: config.uiSearchTimeoutMs,
      },
      port,
    );
    const file = uiUrlPath(root);
    rmSync(file, { force: true });
    // created anew ("wx" after the removal): a link planted there is never written through
    writeFileSync(file, `${ui.url}\n`, { mode: 0o600, flag: "wx" });
    return ui;
  } catch (err) {
    if (!(err instanceof LogwardError)) throw err;
    warn(`logward: ${err.message}`);
    collector.event("ui-failed", { reason: err.message });
    return null;
  }
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "serve",
    args,
    { store: { type: "string" }, config: { type: "string" }, "allow-root": { type: "boolean" } },
    { min: 0, max: 0 },
  );
  const root = storePath(values.store);
  const config = loadConfig(root, values.config);
  refuseRoot(values["allow-root"] === true);
  const collector = await Collector.start(root, config);
  const ui = await startWebUi(root, config, collector);
  // A fatal store error ends the process with 1 (systemd's Restart=on-failure restarts it and
  // recovery reads what is really on disk): sockets, the UI and alert commands would otherwise
  // keep a collector alive that refuses everything. Cleanup gets FATAL_GRACE_MS, then exit.
  const fatal = new Promise<number>((resolve) => {
    collector.store.once("fatal", (err: Error) => {
      warn(`logward: the store failed and the collector stops: ${err.message}`);
      const exit = () => {
        process.exitCode = 1;
        resolve(1);
        process.exit(1);
      };
      setTimeout(exit, FATAL_GRACE_MS).unref();
      void Promise.all([ui?.close(), collector.abort()]).then(exit, exit);
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
      void Promise.all([ui?.close(), collector.stop()]).then(
        () => resolve(0),
        (err: Error) => {
          warn(`logward: error while stopping: ${err.message}`);
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  // the token only on a terminal: a service's stdout goes to the journal, readable by others
  if (ui && process.stdout.isTTY) process.stdout.write(`logward: web UI at ${ui.url}\n`);
  else if (ui)
    process.stdout.write(`logward: web UI at http://127.0.0.1:${ui.port}/ (token in ${uiUrlPath(root)})\n`);
  process.stdout.write(`logward: ready, store ${root}, relay socket ${config.socket}\n`);
  notifySystemd();
  return Promise.race([stopped, fatal]);
}
