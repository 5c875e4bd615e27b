// `logward alerts` prints each alert escaped like stored text: no control or bidi character
// reaches the terminal, and valid UTF-8 (a path or a name in any script) comes out as it is.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Alerts } from "../src/policy/alerts.ts";
import { COLLECTOR_ORIGIN } from "../src/store/names.ts";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { tempDir } from "./helpers/tmp.ts";

test("alerts: a message in any script comes out as written, its control characters escaped", async () => {
  const root = join(tempDir(), "store");
  const store = await Store.open(root, { compress: false });
  try {
    const alerts = new Alerts(await store.stream(COLLECTOR_ORIGIN, "alerts"), null);
    alerts.raise({ kind: "quota-near", origin: "work", message: "/srv/Grüße/日志 \x1b[2J\u202e full" });
    await store.flush();
  } finally {
    await store.close();
  }
  const r = await logward(["alerts", "--store", root]);
  assert.equal(r.code, 0, r.stderr.toString());
  const out = r.stdout.toString("utf8");
  assert.match(out, /quota-near +work +\/srv\/Grüße\/日志 \\x1b\[2J\\u202e full\n$/);
});
