// The shared Destination contract (test/helpers/destination-suite.ts) against the exec type.

import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createDestination } from "../src/output/exec.ts";
import { destinationSuite } from "./helpers/destination-suite.ts";
import { tempDir } from "./helpers/tmp.ts";

const PLUGIN = join(import.meta.dirname, "fixtures/exec-plugin.ts");

for (const acks of [true, false]) {
  let out = "";
  destinationSuite(`exec (acks = ${acks})`, {
    factory: createDestination,
    start: async () => {
      const dir = tempDir();
      chmodSync(dir, 0o755);
      mkdirSync(join(dir, "p"), { mode: 0o777 });
      chmodSync(join(dir, "p"), 0o777);
      out = join(dir, "p", "out");
      return {
        config: {
          name: "suite",
          type: "exec",
          match: "*",
          start: "oldest",
          command: `${process.execPath} ${PLUGIN} ${out}${acks ? " --ack" : ""}`,
          options: { user: "nobody", acks },
          file: "test",
        },
      };
    },
    // without acks a batch counts as delivered before the plugin may have written it: wait a little
    received: async () => {
      if (!acks) await new Promise((r) => setTimeout(r, 300));
      return existsSync(out)
        ? readFileSync(out, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" ").slice(0, 2).join(" "))
        : [];
    },
    stop: async () => {},
  });
}
