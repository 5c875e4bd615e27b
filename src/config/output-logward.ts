// The keys of `type = "logward"` outputs (forwarding to another logward collector, exactly
// once: src/output/logward.ts), read for config/output.ts (its TYPE_KEYS and TYPE_CHECKS name
// these). The check returns the options under their TOML names, defaults filled in.
//
//   type = "logward"
//   command = 'qrexec-client-vm central "logward.Agent+$LOGWARD_STREAM"'   (required; run by sh,
//             once per forwarded stream, with the agent protocol on its stdin and stdout)
//   sessions = 4        forwarded streams with an open session at once (1 to 16)

export const LOGWARD_OUTPUT_KEYS: readonly string[] = ["command", "sessions"];

export const DEFAULT_LOGWARD_SESSIONS = 4;
/** The receiving collector allows 16 sessions per origin by default (max_sessions_per_origin). */
const MAX_LOGWARD_SESSIONS = 16;

export function checkLogwardOutput(
  table: Readonly<Record<string, unknown>>,
  bad: (key: string, want: string) => void,
): Record<string, unknown> {
  const command = table.command;
  if (typeof command !== "string" || command.trim() === "")
    bad("command", 'a command line for sh (required for type = "logward")');
  const sessions = table.sessions ?? DEFAULT_LOGWARD_SESSIONS;
  if (!Number.isInteger(sessions) || (sessions as number) < 1 || (sessions as number) > MAX_LOGWARD_SESSIONS)
    bad("sessions", `a whole number from 1 to ${MAX_LOGWARD_SESSIONS}`);
  return { sessions };
}
