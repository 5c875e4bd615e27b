// Per-origin policy from the configuration: `[[policy]]` tables (first match wins), `[groups.X]`
// quotas, and the collector-wide `alert_command` and `min_free`. Parsed once, every problem
// listed (the caller joins them into one error), then frozen.
//
//   [[policy]]
//   match = "disp*"           glob on the origin name (* and ?)
//   group = "disposables"     optional: the group's quota is shared by its origins
//   quota = "100MiB"          bytes on disk, compressed segments as stored
//   retention = "14d"         records older than this (receive time) are removed
//   on_quota = "drop-oldest"  or "refuse"
//   rate = "2000/s"           records per second (burst: one second's worth)

import { GLOB_RE, globToRegExp } from "../store/names.ts";
import { DEFAULT_RULE } from "./defaults.ts";
import { isTable, tableArray } from "./tables.ts";
import type { CollectorWidePolicy, OnQuota, PolicyConfig, PolicyRule } from "./types.ts";
import { parseDuration, parseRate, parseSize } from "./units.ts";

const GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The rule for an origin: the first that matches, else the fallback. */
export function ruleFor(config: PolicyConfig, origin: string): PolicyRule {
  for (const r of config.rules) if (globToRegExp(r.match).test(origin)) return r;
  return config.fallback;
}

/** The keys of a `[[policy]]` table; any other is refused (docs/CONFIG.md lists them). */
export const POLICY_KEYS: readonly string[] = ["match", "group", "quota", "retention", "on_quota", "rate"];

/** The keys of a `[groups.NAME]` table. */
export const GROUP_KEYS: readonly string[] = ["quota"];

/**
 * Reads `[[policy]]` and `[groups.*]` from a parsed TOML document; `collector` holds the
 * already-checked `alert_command` and `min_free`. Problems are pushed to `problems`.
 */
export function parsePolicy(
  doc: Record<string, unknown>,
  collector: CollectorWidePolicy,
  problems: string[],
): PolicyConfig {
  const rules: PolicyRule[] = [];
  (tableArray(doc, "policy", problems) ?? []).forEach((t: unknown, i: number) => {
    const where = `policy #${i + 1}`;
    if (!isTable(t)) {
      problems.push(`${where} must be a table`);
      return;
    }
    const table = t;
    for (const k of Object.keys(table))
      if (!POLICY_KEYS.includes(k)) problems.push(`${where}: ${k} is not a known setting`);
    const match = table.match;
    if (typeof match !== "string" || !GLOB_RE.test(match)) {
      problems.push(
        `${where}: match must be a glob on origin names such as "disp*", not ${JSON.stringify(match)}`,
      );
    }
    const group = table.group;
    if (group !== undefined && (typeof group !== "string" || !GROUP_RE.test(group))) {
      problems.push(`${where}: group must be a name of letters, digits, '_', '.' or '-'`);
    }
    const quota = table.quota === undefined ? DEFAULT_RULE.quota : parseSize(table.quota);
    if (quota === null || (quota !== null && quota < 64 * 1024)) {
      problems.push(`${where}: quota must be a size of at least 64KiB, such as "100MiB"`);
    }
    const retentionMs = table.retention === undefined ? null : parseDuration(table.retention);
    if (table.retention !== undefined && (retentionMs === null || retentionMs < 1000)) {
      problems.push(`${where}: retention must be a duration such as "14d"`);
    }
    const onQuota = table.on_quota ?? "drop-oldest";
    if (onQuota !== "drop-oldest" && onQuota !== "refuse") {
      problems.push(`${where}: on_quota must be "drop-oldest" or "refuse"`);
    }
    const rate = table.rate === undefined ? null : parseRate(table.rate);
    if (table.rate !== undefined && rate === null)
      problems.push(`${where}: rate must be a rate such as "2000/s"`);
    rules.push(
      Object.freeze({
        match: typeof match === "string" ? match : "",
        group: typeof group === "string" ? group : null,
        quota: quota ?? null,
        retentionMs,
        onQuota: onQuota as OnQuota,
        rate,
      }),
    );
  });
  const groups: Record<string, { quota: number | null }> = {};
  const rawGroups = doc.groups;
  if (
    rawGroups !== undefined &&
    (typeof rawGroups !== "object" || rawGroups === null || Array.isArray(rawGroups))
  ) {
    problems.push("groups must be tables: [groups.NAME]");
  } else {
    for (const [name, t] of Object.entries((rawGroups ?? {}) as Record<string, unknown>)) {
      if (!GROUP_RE.test(name)) {
        problems.push(`groups.${name}: not a valid group name`);
        continue; // never stored: "__proto__" would replace the table's prototype
      }
      if (typeof t !== "object" || t === null) {
        problems.push(`groups.${name} must be a table`);
        continue;
      }
      const table = t as Record<string, unknown>;
      for (const k of Object.keys(table))
        if (!GROUP_KEYS.includes(k)) problems.push(`groups.${name}.${k} is not a known setting`);
      const quota = table.quota === undefined ? null : parseSize(table.quota);
      if (table.quota !== undefined && (quota === null || quota < 64 * 1024)) {
        problems.push(`groups.${name}.quota must be a size of at least 64KiB, such as "2GiB"`);
      }
      groups[name] = Object.freeze({ quota });
    }
  }
  for (const r of rules) {
    if (r.group !== null && !Object.hasOwn(groups, r.group)) {
      problems.push(`a policy names group "${r.group}", but there is no [groups.${r.group}]`);
    }
  }
  return Object.freeze({
    rules: Object.freeze(rules),
    fallback: DEFAULT_RULE,
    groups: Object.freeze(groups),
    alertCommand: collector.alertCommand,
    minFree: collector.minFree,
  });
}
