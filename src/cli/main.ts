// The command dispatcher: every failure a user can cause becomes one sentence on stderr and a
// non-zero exit; anything else is an internal error with a stable code and, with
// LOGWARD_DEBUG=1, its stack.

import { ERRORS, LogwardError } from "../errors.ts";

interface Command {
  run: (args: string[]) => Promise<number>;
  help: string;
}

// Each command's module is loaded only when it runs: qrexec starts `logward ingest` once per
// call, and loading the collector, query and store code it never uses would cost every call.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  ls: {
    summary: "list origins and streams with records, bytes and times",
    load: async () => {
      const m = await import("./ls.ts");
      return { run: m.lsCommand, help: m.LS_HELP };
    },
  },
  show: {
    summary: "print one origin's records (escaped, --raw or --json)",
    load: async () => {
      const m = await import("./show.ts");
      return { run: m.showCommand, help: m.SHOW_HELP };
    },
  },
  serve: {
    summary: "run the collector (the one writer of the store)",
    load: async () => {
      const m = await import("./serve.ts");
      return { run: m.serveCommand, help: m.SERVE_HELP };
    },
  },
  ingest: {
    summary: "qrexec exec-service entry: relay stdin to the collector",
    load: async () => {
      const m = await import("./ingest.ts");
      return { run: m.ingestCommand, help: m.INGEST_HELP };
    },
  },
  search: {
    summary: "search every origin's records (plain string or regular expression)",
    load: async () => {
      const m = await import("./search.ts");
      return { run: m.searchCommand, help: m.SEARCH_HELP };
    },
  },
  export: {
    summary: "write a selection to one verifiable archive (tar.zst with a manifest), or copy it to a qube",
    load: async () => {
      const m = await import("./export.ts");
      return { run: m.exportCommand, help: m.EXPORT_HELP };
    },
  },
  "verify-export": {
    summary: "check an export archive against its manifest",
    load: async () => {
      const m = await import("./export.ts");
      return { run: m.verifyExportCommand, help: m.VERIFY_EXPORT_HELP };
    },
  },
  rm: {
    summary: "delete an origin's records (confirmed, and recorded in _logward/deletions)",
    load: async () => {
      const m = await import("./rm.ts");
      return { run: m.rmCommand, help: m.RM_HELP };
    },
  },
  open: {
    summary: "open a selection in the configured viewer (a disposable qube on Qubes)",
    load: async () => {
      const m = await import("./open.ts");
      return { run: m.openCommand, help: m.OPEN_HELP };
    },
  },
  alerts: {
    summary: "list the collector's alerts (quotas, evictions, refusals, disk reserve)",
    load: async () => {
      const m = await import("./alerts.ts");
      return { run: m.alertsCommand, help: m.ALERTS_HELP };
    },
  },
  ship: {
    summary: "the sender agent: sources, durable spool, exactly-once delivery to the collector",
    load: async () => {
      const m = await import("./ship.ts");
      return { run: m.shipCommand, help: m.SHIP_HELP };
    },
  },
  demo: {
    summary: "run a collector and three simulated VMs on a temporary store, then show the result",
    load: async () => {
      const m = await import("./demo.ts");
      return { run: m.demoCommand, help: m.DEMO_HELP };
    },
  },
};

function version(): string {
  // not a static `import "node:fs"`: its ES module facade loads the whole streams stack, about
  // 3.5 ms of every command's start-up, and only --version needs it here
  const { readFileSync } = process.getBuiltinModule("node:fs");
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: logward COMMAND [options]

logward keeps logs in custody: every record stored durably, escaped, stamped with the
collector's own clock, in plain text that grep and zstdcat can read.

Commands:
${lines.join("\n")}

Run 'logward COMMAND --help' for a command's options. The store is --store DIR, else
$LOGWARD_STORE, else /var/lib/logward (root) or ~/.local/share/logward.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "--help" || command === "-h" || command === "help") {
      const topic = command === "help" ? rest[0] : undefined;
      process.stdout.write(topic && COMMANDS[topic] ? (await COMMANDS[topic].load()).help : mainHelp());
      return 0;
    }
    if (command === "--version" || command === "-V") {
      process.stdout.write(`logward ${version()}\n`);
      return 0;
    }
    const entry = COMMANDS[command];
    if (!entry) {
      throw new LogwardError(
        "LW_USAGE",
        `Unknown command '${command.slice(0, 40).replace(/[^\x20-\x7e]/g, "?")}'; run 'logward --help' for the list of commands.`,
      );
    }
    const loaded = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      process.stdout.write(loaded.help);
      return 0;
    }
    return await loaded.run(rest);
  } catch (err) {
    return reportError(err);
  }
}

export function reportError(err: unknown): number {
  if (err instanceof LogwardError) {
    process.stderr.write(`logward: ${err.message}\n`);
    if (process.env.LOGWARD_DEBUG && err.cause)
      process.stderr.write(`${String((err.cause as Error)?.stack ?? err.cause)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(
    `logward: internal error (LW_INTERNAL): ${e?.message ?? String(err)}; please report it${process.env.LOGWARD_DEBUG ? "" : " (LOGWARD_DEBUG=1 shows the stack)"}.\n`,
  );
  if (process.env.LOGWARD_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
  return ERRORS.LW_INTERNAL.exit;
}
