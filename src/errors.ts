// One registry of every error a user can meet, each with a stable code. docs/ERRORS.md lists
// the same codes and test/errors.test.ts keeps the two in sync. Messages are one sentence that
// says what is wrong and what to do; the code lets scripts and bug reports refer to it.
// This module imports nothing from logward, so every folder may use it.

export const ERRORS = {
  LW_USAGE: { exit: 2, summary: "the command line is wrong (unknown option, missing argument)" },
  LW_BAD_NAME: { exit: 2, summary: "an origin or stream name does not match the allowed pattern" },
  LW_BAD_TIME: { exit: 2, summary: "a --since/--until value is neither RFC 3339 nor a relative time" },
  LW_BAD_REGEX: { exit: 2, summary: "a --grep pattern is not a valid regular expression" },
  LW_NO_STORE: { exit: 1, summary: "the store directory does not exist or is not a logward store" },
  LW_NOT_FOUND: { exit: 1, summary: "the origin or stream asked for has no records in the store" },
  LW_STORE_LOCKED: {
    exit: 1,
    summary: "another process already writes this store (or uses this ship spool)",
  },
  LW_STORE_VERSION: { exit: 1, summary: "the store was written by a newer logward (unknown format version)" },
  LW_STORE_CLOSED: { exit: 1, summary: "a write was attempted on a store that is closing or closed" },
  LW_RECORD_TOO_LARGE: { exit: 1, summary: "a payload is larger than the store's per-record limit" },
  LW_BAD_REF: { exit: 1, summary: "a resume reference is empty, too long or has a space or control byte" },
  LW_BACKLOG_FULL: {
    exit: 1,
    summary: "a writer ignored backpressure and its unwritten backlog passed the hard limit",
  },
  LW_CONFIG: { exit: 2, summary: "the configuration file is missing, unreadable or has invalid settings" },
  LW_NO_ORIGIN: { exit: 2, summary: "logward ingest was run without a valid QREXEC_REMOTE_DOMAIN" },
  LW_NO_COLLECTOR: {
    exit: 1,
    summary: "logward serve is not running for this store (no socket to connect to)",
  },
  LW_NOT_DURABLE: {
    exit: 1,
    summary: "the collector ended the session before confirming that everything relayed is durable",
  },
  LW_LISTEN: {
    exit: 1,
    summary: "the collector could not listen on a socket path (in use, not a socket, too long)",
  },
  LW_EXPORT_INVALID: {
    exit: 1,
    summary: "an export archive does not match its manifest (changed, cut short or not one)",
  },
  LW_BUSY: { exit: 1, summary: "a stream to delete is receiving records right now" },
  LW_STREAM_LIMIT: {
    exit: 1,
    summary: "an origin has as many streams as [collector] max_streams_per_origin allows; no new one",
  },
  LW_SPOOL_AHEAD: {
    exit: 1,
    summary: "the collector holds more of a sender's spool than the spool itself (a restored copy)",
  },
  LW_NOT_SHIPPED: {
    exit: 1,
    summary: "ship --once ended with files not shipped (refused for good by the collector, or unreadable)",
  },
  LW_UI_PORT: {
    exit: 1,
    summary: "the web UI cannot listen on its port (in use); set another [ui] port or disable it",
  },
  LW_UI_HOST: { exit: 1, summary: "a web UI request named another host (DNS rebinding is refused)" },
  LW_UI_TOKEN: { exit: 1, summary: "a web UI request without a valid access token or session cookie" },
  LW_UI_CSRF: { exit: 1, summary: "a web UI action without the page's CSRF token or from another origin" },
  LW_UI_METHOD: { exit: 1, summary: "a web UI request with a method other than GET or POST" },
  LW_UNSAFE_PATH: {
    exit: 1,
    summary:
      "a store directory or segment named by an origin or stream is a symbolic link or another user's; not followed",
  },
  LW_ROOT: {
    exit: 2,
    summary: "logward serve was started as root without --allow-root; run it as the logward user",
  },
  LW_SEARCH_TIMEOUT: {
    exit: 1,
    summary: "a web UI search ran past its time budget ([ui] search_timeout) and was stopped",
  },
  LW_SEARCH_TOO_LARGE: {
    exit: 1,
    summary: "a web UI search needed more memory than a search may use and was stopped",
  },
  LW_NOT_OBJECT: { exit: 1, summary: "the record a seq names is not an object (logward get, open --seq)" },
  LW_OBJECT_GONE: { exit: 1, summary: "an object was evicted (quota, retention) and is no longer stored" },
  LW_OBJECT_CORRUPT: {
    exit: 1,
    summary: "a stored object does not match the SHA-256 and size of its record",
  },
  LW_BINARY_TERMINAL: { exit: 2, summary: "a binary object would be written to a terminal; use -o FILE" },
  LW_SEAL_KEY: {
    exit: 2,
    summary: "a verification key is mistyped, or the store's sealing key file (run/seal.key) is damaged",
  },
  LW_SEALED: { exit: 1, summary: "seal init on a store that already has a sealing key (without --force)" },
  LW_NOT_SEALED: { exit: 1, summary: "the store has no sealing key: run 'logward seal init' first" },
  LW_TAMPERED: {
    exit: 1,
    summary: "verify found sealed records changed, missing, reordered or truncated, or a forged seal",
  },
  LW_CHECKPOINT_INVALID: {
    exit: 1,
    summary: "a checkpoint file is not one logward wrote, or not authentic under the verification key",
  },
  LW_IO: { exit: 1, summary: "the operating system refused a file operation (permissions, disk full)" },
  LW_INTERNAL: { exit: 70, summary: "a bug in logward; the message and stack should be reported" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error meant for a person: `message` is one sentence, `code` is stable across releases. */
export class LogwardError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LogwardError";
    this.code = code;
    this.exitCode = ERRORS[code].exit;
  }
}

/** Turns an operating-system error into a sentence that names the file and what to check. */
export function ioError(action: string, path: string, err: unknown): LogwardError {
  const e = err as NodeJS.ErrnoException;
  const why =
    e?.code === "EACCES" || e?.code === "EPERM"
      ? "permission denied; run as the store's owner or fix its permissions"
      : e?.code === "ENOSPC"
        ? "the disk is full; free some space and try again"
        : e?.code === "ENOENT"
          ? "it does not exist"
          : `${e?.code ?? "error"}: ${e?.message ?? String(err)}`;
  return new LogwardError("LW_IO", `Could not ${action} ${path}: ${why}.`, { cause: err });
}
