// The registry of output types: `type = "..."` in an `[[output]]` table -> the module that makes
// its Destination (destination.ts). Each type is loaded only when an output of that type runs,
// so that a collector without a `nats` output never loads the NATS client. One line per type:
// each type's module exports `createDestination: DestinationFactory`.

import { LogwardError } from "../errors.ts";
import type { DestinationFactory, OutputType } from "./destination.ts";

type Loader = () => Promise<{ createDestination: DestinationFactory }>;

const LOADERS: Readonly<Record<OutputType, Loader | null>> = {
  exec: () => import("./exec.ts"),
  logward: () => import("./logward.ts"),
  syslog: () => import("./syslog.ts"),
  nats: () => import("./nats.ts"),
};

/** The factory of `type`; an LW_CONFIG error for a type this build cannot run. */
export async function destinationFactory(type: OutputType): Promise<DestinationFactory> {
  const load = LOADERS[type];
  if (!load)
    throw new LogwardError("LW_CONFIG", `Outputs of type "${type}" are not available in this build.`);
  return (await load()).createDestination;
}
