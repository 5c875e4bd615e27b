// Running one command: --help, and every failure turned into one sentence on stderr and a
// non-zero exit (a LogwardError), or an internal error with a stable code and, with
// LOGWARD_DEBUG=1, its stack. Shared by the dispatcher (main.ts) and the start-up bundles
// (scripts/build.ts), which run one command without loading the others.

import { ERRORS, LogwardError } from "../errors.ts";

export interface Command {
  run: (args: string[]) => Promise<number>;
  help: string;
}

export async function runCommand(command: Command, args: string[]): Promise<number> {
  try {
    if (args.includes("--help") || args.includes("-h")) {
      process.stdout.write(command.help);
      return 0;
    }
    return await command.run(args);
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
