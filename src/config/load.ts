// The whole configuration, read once: defaults in one object (defaults.ts), an optional TOML
// file on top, every problem listed at once (file, key, what is wrong), then frozen. Unknown
// sections and keys are errors, so a typo is never silently ignored. The sections are parsed
// by collector.ts ([collector], [store]), ui.ts ([ui], [viewers], [export]) and policy.ts
// ([[policy]], [groups.NAME]); docs/CONFIG.md documents every key CONFIG_KEYS lists.

import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { LogwardError } from "../errors.ts";
import { COLLECTOR_KEYS, STORE_KEYS } from "./collector.ts";
import { DEFAULT_CONFIG_FILE, defaultConfig } from "./defaults.ts";
import { mergeIncludes, TOP_LEVEL_KEYS } from "./include.ts";
import { LISTEN_KEYS, parseListen } from "./listen.ts";
import { NOTIFY_KEYS, parseNotify } from "./notify.ts";
import { OUTPUT_KEYS, parseOutputs } from "./output.ts";
import { GROUP_KEYS, POLICY_KEYS, parsePolicy } from "./policy.ts";
import type { Rule } from "./rule.ts";
import { SEAL_KEYS } from "./seal.ts";
import type { CollectorConfig } from "./types.ts";
import { EXPORT_KEYS, parseUi, parseViewers, UI_KEYS } from "./ui.ts";

/**
 * Every section and the keys the parser accepts in it, in the order the error about an unknown
 * section names them. `TYPE` in [viewers] stands for any stream type name. test/config-doc.test.ts
 * checks that docs/CONFIG.md documents exactly these.
 */
export const CONFIG_KEYS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  collector: Object.keys(COLLECTOR_KEYS),
  store: Object.keys(STORE_KEYS),
  policy: POLICY_KEYS,
  groups: GROUP_KEYS,
  viewers: ["TYPE"],
  export: Object.keys(EXPORT_KEYS),
  ui: UI_KEYS,
  listen: LISTEN_KEYS,
  seal: Object.keys(SEAL_KEYS),
  output: OUTPUT_KEYS,
  notify: NOTIFY_KEYS,
});

const SECTIONS = Object.keys(CONFIG_KEYS);

/** `--config FILE` if given, else the packaged configuration if it exists, else none. */
export function configFileOrDefault(given: string | undefined): string | undefined {
  return given ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
}

/** Loads `file` (if given) over the defaults. Throws one LogwardError listing every problem. */
export function loadConfig(store: string, file?: string): CollectorConfig {
  const defaults = defaultConfig(store);
  if (!file) return defaults;
  let mainDoc: Record<string, unknown>;
  try {
    mainDoc = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "it does not exist" : e.message.split("\n")[0];
    throw new LogwardError("LW_CONFIG", `The configuration ${file} cannot be read: ${why}.`);
  }
  // [collector] alert_command and min_free are set here first, then handed to the policy
  const config: Record<string, unknown> = {
    ...defaults,
    alertCommand: defaults.policy.alertCommand,
    minFree: defaults.policy.minFree,
  };
  const problems: string[] = [];
  // `include` drop-ins are merged in first, so everything below checks them as one file
  const { doc, outputs } = mergeIncludes(mainDoc, file, problems);
  const section = (name: string, rules: Record<string, Rule>) => {
    const table = doc[name];
    if (table === undefined) return;
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      problems.push(`[${name}] must be a table`);
      return;
    }
    for (const [k, v] of Object.entries(table)) {
      const rule = Object.hasOwn(rules, k) ? rules[k] : undefined;
      if (!rule) {
        problems.push(`${name}.${k} is not a known setting`);
        continue;
      }
      const parsed = rule.parse(v);
      if (parsed === null) problems.push(`${name}.${k} must be ${rule.want}, not ${JSON.stringify(v)}`);
      else config[rule.key] = parsed;
    }
  };
  for (const key of Object.keys(doc)) {
    if (key === "output") problems.push("output must be an array of tables: [[output]]");
    else if (!SECTIONS.includes(key) && !TOP_LEVEL_KEYS.includes(key))
      problems.push(
        `[${key}] is not a known section (expected [collector], [store], [[policy]], [groups.NAME], [viewers], [export], [ui], [[listen]], [seal], [[output]] or [[notify]])`,
      );
  }
  section("collector", COLLECTOR_KEYS);
  section("export", EXPORT_KEYS);
  section("store", STORE_KEYS);
  section("seal", SEAL_KEYS);
  config.viewers = parseViewers(doc.viewers, problems);
  config.uiPort = parseUi(doc.ui, problems, config.uiPort as number | null, (ms) => {
    config.uiSearchTimeoutMs = ms;
  });
  config.listen = parseListen(doc, problems);
  config.outputs = parseOutputs(outputs, file, problems);
  config.notify = parseNotify(doc, problems);
  const { alertCommand, minFree, ...rest } = config;
  rest.policy = parsePolicy(
    doc,
    { alertCommand: alertCommand as readonly string[] | null, minFree: minFree as number },
    problems,
  );
  if (problems.length > 0) {
    throw new LogwardError(
      "LW_CONFIG",
      `The configuration ${file} has ${problems.length} problem(s): ${problems.join("; ")}.`,
    );
  }
  return Object.freeze(rest) as unknown as CollectorConfig;
}
