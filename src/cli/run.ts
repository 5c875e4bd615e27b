// Running one command: --help, and every failure turned into one sentence on stderr and a
// non-zero exit (a LogwardError), or an internal error with a stable code and, with
// LOGWARD_DEBUG=1, its stack. Shared by the dispatcher (main.ts) and the start-up bundles
// (scripts/build.ts), which run one command without loading the others.

import { ERRORS, LogwardError } from "../errors.ts";
import { escapeText } from "../store/escape.ts";
import { unfollowedEntries } from "../store/read.ts";

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
  } finally {
    warnUnfollowed();
  }
}

/** One sentence for the symbolic links a reader found in the store and did not follow. */
function warnUnfollowed(): void {
  const links = unfollowedEntries();
  if (links.length === 0) return;
  const more = links.length > 1 ? ` and ${links.length - 1} more` : "";
  process.stderr.write(
    `logward: warning: ${escapeText(links[0]!)}${more} in the store is a symbolic link, not a plain file or directory, or another user's; it was not followed (remove it).\n`,
  );
}

/**
 * The one way a message reaches stderr: messages echo arguments and names a sender chose, so
 * every control, C1 or bidi character is escaped as in a stored line (src/store/escape.ts).
 * A stack keeps its line breaks; each line is escaped.
 */
export function warn(text: string, multiline = false): void {
  const safe = multiline ? text.split("\n").map(escapeText).join("\n") : escapeText(text);
  process.stderr.write(`${safe}\n`);
}

export function reportError(err: unknown): number {
  if (err instanceof LogwardError) {
    warn(`logward: ${err.message}`);
    if (process.env.LOGWARD_DEBUG && err.cause) warn(String((err.cause as Error)?.stack ?? err.cause), true);
    return err.exitCode;
  }
  const e = err as Error;
  warn(
    `logward: internal error (LW_INTERNAL): ${e?.message ?? String(err)}; please report it${process.env.LOGWARD_DEBUG ? "" : " (LOGWARD_DEBUG=1 shows the stack)"}.`,
  );
  if (process.env.LOGWARD_DEBUG) warn(e?.stack ?? "", true);
  return ERRORS.LW_INTERNAL.exit;
}
