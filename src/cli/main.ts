// The command dispatcher: every failure a user can cause becomes one sentence on stderr and a
// non-zero exit; anything else is an internal error with a stable code and, with
// LOGWARD_DEBUG=1, its stack.

import { LogwardError } from "../errors.ts";
import { type Command, reportError, runCommand } from "./run.ts";

/** Where a command lives: its module in src/cli, and the names of its entry and help text. */
export interface CommandEntry {
  summary: string;
  module: string;
  run: string;
  help: string;
}

// Each command's module is loaded only when it runs: qrexec starts `logward ingest` once per
// call, and loading the collector, query and store code it never uses would cost every call.
// scripts/build.ts bundles each command from this table (see bin/logward.js).
export const COMMANDS: Record<string, CommandEntry> = {
  ls: {
    summary: "list origins and streams with records, bytes and times",
    module: "ls.ts",
    run: "lsCommand",
    help: "LS_HELP",
  },
  show: {
    summary: "print one origin's records (escaped, --raw or --json)",
    module: "show.ts",
    run: "showCommand",
    help: "SHOW_HELP",
  },
  serve: {
    summary: "run the collector (the one writer of the store)",
    module: "serve.ts",
    run: "serveCommand",
    help: "SERVE_HELP",
  },
  ingest: {
    summary: "qrexec exec-service entry: relay stdin to the collector",
    module: "ingest.ts",
    run: "ingestCommand",
    help: "INGEST_HELP",
  },
  get: {
    summary: "write an object's exact bytes (a blob stream's EVTX, BSM, pcap, ...)",
    module: "get.ts",
    run: "getCommand",
    help: "GET_HELP",
  },
  search: {
    summary: "search every origin's records (plain string or regular expression)",
    module: "search.ts",
    run: "searchCommand",
    help: "SEARCH_HELP",
  },
  export: {
    summary: "write a selection to one verifiable archive (tar.zst with a manifest), or copy it to a qube",
    module: "export.ts",
    run: "exportCommand",
    help: "EXPORT_HELP",
  },
  "verify-export": {
    summary: "check an export archive against its manifest",
    module: "export.ts",
    run: "verifyExportCommand",
    help: "VERIFY_EXPORT_HELP",
  },
  rm: {
    summary: "delete an origin's records (confirmed, and recorded in _logward/deletions)",
    module: "rm.ts",
    run: "rmCommand",
    help: "RM_HELP",
  },
  open: {
    summary: "open a selection in the configured viewer (a disposable qube on Qubes)",
    module: "open.ts",
    run: "openCommand",
    help: "OPEN_HELP",
  },
  alerts: {
    summary: "list the collector's alerts (quotas, evictions, refusals, disk reserve)",
    module: "alerts.ts",
    run: "alertsCommand",
    help: "ALERTS_HELP",
  },
  ship: {
    summary: "the sender agent: sources, durable spool, exactly-once delivery to the collector",
    module: "ship.ts",
    run: "shipCommand",
    help: "SHIP_HELP",
  },
  seal: {
    summary: "seal init: give the store a sealing key and print the verification key once",
    module: "seal.ts",
    run: "sealCommand",
    help: "SEAL_HELP",
  },
  verify: {
    summary: "check every seal of the store with the verification key (tamper evidence)",
    module: "verify.ts",
    run: "verifyCommand",
    help: "VERIFY_HELP",
  },
  checkpoint: {
    summary: "write the newest seal of every stream to a small signed file, to keep elsewhere",
    module: "checkpoint.ts",
    run: "checkpointCommand",
    help: "CHECKPOINT_HELP",
  },
  demo: {
    summary: "run a collector and three simulated VMs on a temporary store, then show the result",
    module: "demo.ts",
    run: "demoCommand",
    help: "DEMO_HELP",
  },
};

/** The table's entry for a name typed by the user; never one of Object.prototype's members. */
export function commandEntry(name: string): CommandEntry | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}

/** Loads a command's module from source. */
export async function loadCommand(entry: CommandEntry): Promise<Command> {
  const m = (await import(`./${entry.module}`)) as Record<string, unknown>;
  return { run: m[entry.run] as Command["run"], help: m[entry.help] as string };
}

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
      const entry = topic === undefined ? undefined : commandEntry(topic);
      process.stdout.write(entry ? (await loadCommand(entry)).help : mainHelp());
      return 0;
    }
    if (command === "--version" || command === "-V") {
      process.stdout.write(`logward ${version()}\n`);
      return 0;
    }
    const entry = commandEntry(command);
    if (!entry) {
      throw new LogwardError(
        "LW_USAGE",
        `Unknown command '${command.slice(0, 40).replace(/[^\x20-\x7e]/g, "?")}'; run 'logward --help' for the list of commands.`,
      );
    }
    return await runCommand(await loadCommand(entry), rest);
  } catch (err) {
    return reportError(err);
  }
}
