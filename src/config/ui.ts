// The reading side's sections: `[ui]` (the web UI's port and search budget), `[viewers]` (the
// command `logward open` runs per stream type) and `[export]` (`logward export --to-vm`'s copy
// command). [ui] and [viewers] are read by hand: port and enabled set one field together, and
// [viewers] keys are stream type names rather than fixed settings.

import { DEFAULT_UI_PORT } from "./defaults.ts";
import type { Rule } from "./rule.ts";
import { parseDuration } from "./units.ts";

/** The keys of `[ui]`; any other is refused. */
export const UI_KEYS: readonly string[] = ["port", "enabled", "search_timeout"];

/** `[ui]`: port and enabled set uiPort, so they are read together (enabled = false wins). */
export function parseUi(
  raw: unknown,
  problems: string[],
  current: number | null,
  setSearchTimeout: (ms: number) => void,
): number | null {
  if (raw === undefined) return current;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push("[ui] must be a table");
    return current;
  }
  let port = current ?? DEFAULT_UI_PORT;
  let enabled = true;
  for (const [k, v] of Object.entries(raw)) {
    if (!UI_KEYS.includes(k)) {
      problems.push(`ui.${k} is not a known setting`);
    } else if (k === "port") {
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535) port = v as number;
      else
        problems.push(
          `ui.port must be a port number from 0 (any free port) to 65535, not ${JSON.stringify(v)}`,
        );
    } else if (k === "enabled") {
      if (typeof v === "boolean") enabled = v;
      else problems.push(`ui.enabled must be true or false, not ${JSON.stringify(v)}`);
    } else {
      // search_timeout
      const ms = parseDuration(v);
      if (ms !== null && ms >= 1000 && ms <= 3600_000) setSearchTimeout(ms);
      else
        problems.push(
          `ui.search_timeout must be a duration from "1s" to "1h", such as "10s", not ${JSON.stringify(v)}`,
        );
    }
  }
  return enabled ? port : null;
}

const TYPE_RE = /^[a-z][a-z0-9_-]{0,31}$/;

/** `[viewers]`: type = ["command", "arg", "{file}"], the file's path replacing "{file}". */
export function parseViewers(raw: unknown, problems: string[]): Readonly<Record<string, readonly string[]>> {
  if (raw === undefined) return Object.freeze({});
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push("[viewers] must be a table");
    return Object.freeze({});
  }
  const out: Record<string, readonly string[]> = {};
  for (const [type, v] of Object.entries(raw)) {
    const ok =
      TYPE_RE.test(type) &&
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((a) => typeof a === "string" && a.length > 0) &&
      v.some((a) => (a as string).includes("{file}"));
    if (!ok)
      problems.push(
        `viewers.${type} must be a command as a list with "{file}" in it, such as ["qvm-open-in-dvm", "{file}"]`,
      );
    else out[type] = Object.freeze([...(v as string[])]);
  }
  return Object.freeze(out);
}

export const EXPORT_KEYS: Record<string, Rule> = {
  copy_command: {
    key: "exportCopy",
    parse: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((a) => typeof a === "string" && a.length > 0) &&
      v.some((a) => a.includes("{file}"))
        ? Object.freeze([...v])
        : null,
    want: 'a command as a list with "{file}" (and "{vm}") in it, such as ["qvm-copy-to-vm", "{vm}", "{file}"]',
  },
};
