// Command-line parsing on util.parseArgs, with errors turned into one sentence and a pointer
// to the command's --help.

import type { ParseArgsConfig } from "node:util";
import { LogwardError } from "../errors.ts";

// `import { parseArgs } from "node:util"` would build node:util's ES module facade, which reads
// every export and so loads TextDecoder and friends: about 3 ms of every command's start-up
// (a --cpu-prof of `logward show`). getBuiltinModule hands out the module without a facade.
const { parseArgs } = process.getBuiltinModule("node:util");

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse<T extends Options>(
  command: string,
  args: string[],
  options: T,
  positionals: { min: number; max: number },
) {
  // "--since -1h": a value that looks like a negative number belongs to the option before it
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    const next = args[i + 1];
    if (
      name &&
      Object.hasOwn(options, name) &&
      options[name]?.type === "string" &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      joined.push(`${a}=${next}`);
      i++;
    } else joined.push(a);
  }
  args = joined;
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
  >;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/\.?\s*To specify a positional argument.*$/s, "");
    throw new LogwardError("LW_USAGE", `${msg.replace(/\.$/, "")}; see 'logward ${command} --help'.`);
  }
  const n = parsed.positionals.length;
  if (n < positionals.min || n > positionals.max) {
    const want =
      positionals.min === positionals.max ? `${positionals.min}` : `${positionals.min} to ${positionals.max}`;
    throw new LogwardError(
      "LW_USAGE",
      `'logward ${command}' takes ${want} argument${positionals.max === 1 ? "" : "s"}, not ${n}; see 'logward ${command} --help'.`,
    );
  }
  return parsed;
}

/** A record's sequence number as typed (`what`: SEQ, --seq), else one sentence (LW_USAGE). */
export function parseSeq(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text))
    throw new LogwardError(
      "LW_USAGE",
      `${what} must be a record's sequence number (a positive whole number).`,
    );
  return Number(text);
}
