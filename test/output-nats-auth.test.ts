// The nats output's credentials (src/output/nats.ts, config/output-net.ts): nats_user with
// nats_password, or nats_token, against a real `nats-server -js` started with --user/--pass or
// --auth; wrong ones leave the records in the store and the error in the output's state
// (without the secret), right ones deliver every record exactly once from the same cursors.
// TLS with a client certificate against nats-server --tlsverify. nats_creds (a JWT and nkey
// seed) needs an operator-mode server (nsc): only its checks here.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadConfig } from "../src/config/load.ts";
import type { OutputConfig } from "../src/config/types.ts";
import { createDestination } from "../src/output/nats.ts";
import { OutputRunner } from "../src/output/runner.ts";
import { Store } from "../src/store/store.ts";
import { natsServer, readJetStream } from "./helpers/nats.ts";
import { freePort, makePki } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const SECRET = "s3cr3t-Pa55";

function natsOutput(url: string, auth: Record<string, unknown>): OutputConfig {
  return {
    name: "bus",
    type: "nats",
    match: "vm1",
    start: "oldest",
    command: null,
    file: "test",
    options: {
      servers: [url],
      jetstream_stream: "LOGWARD",
      duplicate_window_ms: 120_000,
      tls_ca: null,
      tls_cert: null,
      tls_key: null,
      nats_creds: null,
      nats_user: null,
      nats_password: null,
      nats_token: null,
      ...auth,
    },
  };
}

function load(lines: string[]) {
  const dir = tempDir();
  const file = join(dir, "logward.toml");
  writeFileSync(file, `[[output]]\nname = "bus"\ntype = "nats"\n${lines.join("\n")}\n`);
  return loadConfig(dir, file);
}

describe("nats output: credentials keys", () => {
  test("user and password, a token, a .creds file: read; none by default", () => {
    const none = load([]).outputs[0]!.options;
    assert.deepEqual(
      [none.nats_creds, none.nats_user, none.nats_password, none.nats_token],
      [null, null, null, null],
    );
    const up = load(['nats_user = "logward"', `nats_password = "${SECRET}"`]).outputs[0]!.options;
    assert.deepEqual([up.nats_user, up.nats_password], ["logward", SECRET]);
    assert.equal(load([`nats_token = "${SECRET}"`]).outputs[0]!.options.nats_token, SECRET);
    const creds = join(tempDir(), "bus.creds");
    writeFileSync(
      creds,
      "-----BEGIN NATS USER JWT-----\neyJ0eXAi\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUAM\n------END USER NKEY SEED------\n",
    );
    assert.equal(load([`nats_creds = "${creds}"`]).outputs[0]!.options.nats_creds, creds);
  });

  test("refused in one sentence, a secret never repeated: two ways, a half pair, a bad or unreadable .creds", () => {
    const refused = (lines: string[], re: RegExp) => {
      let message = "";
      assert.throws(
        () => load(lines),
        (err: Error) => {
          message = err.message;
          return re.test(err.message);
        },
      );
      assert.ok(!message.includes(SECRET), `the secret is not in: ${message}`);
    };
    refused(
      [`nats_token = "${SECRET}"`, 'nats_user = "u"', `nats_password = "${SECRET}"`],
      /nats_token must be left out when nats_user is set/,
    );
    refused(
      [`nats_password = "${SECRET}"`],
      /nats_user must be set together with the other of nats_user and nats_password/,
    );
    refused(
      [`nats_token = "${SECRET}\\n2"`],
      /nats_token must be a string of 1 to 4096 characters on one line, not what it is \(not shown\)/,
    );
    const dir = tempDir();
    refused(
      [`nats_creds = "${join(dir, "absent.creds")}"`],
      /nats_creds must be a readable NATS \.creds file \(it cannot be read \(ENOENT\)\), not ".*absent\.creds"\./,
    );
    writeFileSync(join(dir, "junk.creds"), `password ${SECRET}\n`);
    refused(
      [`nats_creds = "${join(dir, "junk.creds")}"`],
      /\(it is not a NATS \.creds file \(a user JWT and an nkey seed\)\), not ".*junk\.creds"/,
    );
    refused([`nats_creds = "${dir}"`], /is not a file/);
    refused(['nats_creds = "relative.creds"'], /nats_creds must be an absolute path/);
  });
});

async function storeWith(root: string, n: number): Promise<Store> {
  const store = await Store.open(root);
  const w = await store.stream("vm1", "main");
  w.appendRecords(Array.from({ length: n }, (_, i) => Buffer.from(`r${i + 1}`)));
  await store.flush();
  return store;
}

describe("nats output with credentials, into nats-server -js", { timeout: 120_000 }, () => {
  for (const [how, args, wrong, right, readAuth] of [
    [
      "user and password",
      ["--user", "logward", "--pass", SECRET],
      { nats_user: "logward", nats_password: "wrong-pass" },
      { nats_user: "logward", nats_password: SECRET },
      { user: "logward", pass: SECRET },
    ],
    ["a token", ["--auth", SECRET], { nats_token: "wrong-token" }, { nats_token: SECRET }, { token: SECRET }],
  ] as const) {
    test(`${how}: wrong ones show in the state and keep the records; right ones deliver each once`, async (t) => {
      const dir = tempDir();
      const server = natsServer(dir, await freePort(), args);
      await server.start();
      t.after(() => server.stop());
      const root = join(dir, "store");
      const store = await storeWith(root, 500);
      t.after(() => store.close());
      const logged: string[] = [];
      const run = (auth: Record<string, unknown>) =>
        new OutputRunner({
          root,
          config: natsOutput(server.url, auth),
          factory: createDestination,
          log: (m) => logged.push(m),
          backoffMs: 100,
        });

      const refused = run(wrong);
      refused.start();
      await until("the refusal in the state", () => refused.snapshot().lastError !== null);
      await refused.stop();
      const state = refused.snapshot();
      assert.match(
        state.lastError!,
        /^output bus: nats:\/\/127\.0\.0\.1:\d+: cannot connect \(.*Authorization Violation.*\)\.$/i,
      );
      assert.equal(state.streams["vm1/main"]?.seq ?? 0, 0, "no record acknowledged");
      for (const line of [JSON.stringify(state), ...logged])
        assert.ok(!line.includes(SECRET) && !line.includes("wrong-"), `no secret in: ${line}`);

      const good = run(right);
      good.start();
      await until("every record acknowledged", () => good.snapshot().streams["vm1/main"]?.seq === 500, {
        ms: 30_000,
      });
      await good.stop();
      assert.equal(good.snapshot().lastError, null);
      const got = await readJetStream(server.url, "LOGWARD", readAuth);
      assert.equal(got.length, 500);
      assert.deepEqual(
        got.map((g) => g.seq),
        Array.from({ length: 500 }, (_, i) => i + 1),
      );
      assert.equal(got[0]!.data.toString(), "r1");
    });
  }
});

describe("nats output over TLS, into nats-server -js --tlsverify", { timeout: 120_000 }, () => {
  test("tls_ca and a client certificate deliver each record once; without the certificate the state says why", async (t) => {
    const dir = tempDir();
    const pki = await makePki(dir);
    const client = await pki.clientCert("logward");
    const server = natsServer(dir, await freePort(), [
      "--tls",
      "--tlscert",
      pki.serverCert,
      "--tlskey",
      pki.serverKey,
      "--tlscacert",
      pki.ca,
      "--tlsverify",
    ]);
    await server.start();
    t.after(() => server.stop());
    const root = join(dir, "store");
    const store = await storeWith(root, 300);
    t.after(() => store.close());
    const run = (tls: Record<string, unknown>) =>
      new OutputRunner({
        root,
        config: natsOutput(server.url, tls),
        factory: createDestination,
        log: () => {},
        backoffMs: 100,
      });

    const refused = run({ tls_ca: pki.ca });
    refused.start();
    await until("the refusal in the state", () => refused.snapshot().lastError !== null);
    await refused.stop();
    assert.match(refused.snapshot().lastError!, /^output bus: nats:\/\/127\.0\.0\.1:\d+: /);
    assert.equal(refused.snapshot().streams["vm1/main"]?.seq ?? 0, 0, "no record acknowledged");

    const good = run({ tls_ca: pki.ca, tls_cert: client.cert, tls_key: client.key });
    good.start();
    await until("every record acknowledged", () => good.snapshot().streams["vm1/main"]?.seq === 300, {
      ms: 30_000,
    });
    await good.stop();
    const got = await readJetStream(server.url, "LOGWARD", {
      tls: { caFile: pki.ca, certFile: client.cert, keyFile: client.key },
    });
    assert.deepEqual(
      got.map((g) => g.seq),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
  });
});
