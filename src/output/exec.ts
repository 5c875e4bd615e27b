// The `exec` output type (in progress): see docs/OUTPUTS.md.
import type { DestinationFactory } from "./destination.ts";

export const createDestination: DestinationFactory = () => {
  throw new Error("exec output: not built yet");
};
