// logward search --field/--severity and the web UI's severity and app filters: records built by
// util-linux logger (sent over UDP to a socket here, taken as the collector would store them)
// and the ported parser vectors (test/fixtures/syslog/parse-vectors.json), searched with each
// filter; escaped bytes in the header (an SD value with \" \\ \], a TAB in a TAG, a HOSTNAME
// byte that is not UTF-8) read as the sender sent them; bad filter values refused in one
// sentence; the UI's /api/search with the same filters; --follow with filters.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readRecords } from "../src/query/records.ts";
import { matchLine } from "../src/query/search.ts";
import {
  compileSyslogFilter,
  type FieldSpec,
  recordFields,
  syslogJson,
  syslogMatches,
} from "../src/query/syslog-filter.ts";
import { escapePayload } from "../src/store/escape.ts";
import { parseLine } from "../src/store/record.ts";
import { Store } from "../src/store/store.ts";
import { parseSyslog } from "../src/wire/syslog-parse.ts";
import { BIN, logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve, uiLogin } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

interface Vector {
  name: string;
  source: string;
  input?: string;
  inputHex?: string;
  expect: {
    header: string | null;
    facility: number | null;
    severity: number | null;
    hostname: string | null;
    appName: string | null;
    procId: string | null;
    msgId: string | null;
    structuredData: Array<{ id: string; params: Array<[string, string]> }> | null;
  };
}
const VECTORS = (
  JSON.parse(readFileSync(join(import.meta.dirname, "fixtures/syslog/parse-vectors.json"), "utf8")) as {
    vectors: Vector[];
  }
).vectors;
const rawOf = (v: Vector) =>
  v.inputHex !== undefined ? Buffer.from(v.inputHex, "hex") : Buffer.from(v.input!);

/** What util-linux logger sends for each argument list, one UDP datagram a message. */
async function fromLogger(runs: string[][]): Promise<Buffer[]> {
  const sock = createSocket("udp4");
  const got: Buffer[] = [];
  let wake: (() => void) | null = null;
  sock.on("message", (m) => {
    got.push(m);
    wake?.();
  });
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  const port = String(sock.address().port);
  try {
    for (const args of runs) {
      const n = got.length;
      const arrived = new Promise<void>((r) => (wake = r));
      execFileSync("logger", ["-n", "127.0.0.1", "-P", port, "-d", ...args]);
      const timer = setTimeout(() => wake?.(), 5000);
      await arrived;
      clearTimeout(timer);
      assert.equal(got.length, n + 1, `logger ${args.join(" ")} sent nothing`);
    }
  } finally {
    sock.close();
  }
  return got;
}

// Each message carries a marker (M1…) that the assertions name.
const LOGGER_RUNS: string[][] = [
  [
    "--rfc5424",
    "-t",
    "sshd",
    "-p",
    "auth.err",
    "-i",
    "--msgid",
    "LOGIN",
    "--sd-id",
    "login@32473",
    "--sd-param",
    'user="root"',
    // logger takes the PARAM-VALUE as written: the RFC's escapes \" \\ \] are ours to write
    "--sd-param",
    'note="say \\"hi\\" \\\\ ok\\]"',
    "M1 Failed password for root",
  ],
  ["--rfc5424", "-t", "sshd", "-p", "authpriv.info", "M2 Accepted publickey for alice"],
  ["--rfc3164", "-t", "cron", "-p", "cron.info", "M3 (root) CMD (run-parts /etc/cron.hourly)"],
  ["--rfc3164", "-t", "kernel", "-p", "user.warning", "M4 usb 1-1: new device"],
  ["--rfc5424", "-t", "nginx", "-p", "local3.crit", "--msgid", "502", "--id=4242", "M5 upstream timed out"],
  // a TAB inside the tag: stored as \t, but what was sent is no TAG (a TAG has no control byte)
  ["--rfc3164", "-t", "tab\there", "-p", "daemon.emerg", "M6 tag with a tab"],
  ["--rfc5424", "-t", "app", "-p", "local7.debug", "M7 back\\slash and \x1b[31m escape in MSG"],
  ["--rfc5424=notime,nohost", "-t", "sshd-keygen", "-p", "auth.notice", "M8 host key made"],
];

/** The markers (M1…) of what a search printed as --json. */
function markers(stdout: Buffer): string[] {
  const text = stdout.toString().trim();
  if (text === "") return [];
  return text.split("\n").map((l) => {
    const m = /\b(M\d+|V\d+)\b/.exec((JSON.parse(l) as { payload: string }).payload);
    assert.ok(m, l);
    return m[1]!;
  });
}

describe("search on syslog fields", () => {
  const root = join(tempDir(), "store");
  // the vectors in a store of their own, so that their app-names cannot meet the markers'
  const vectorRoot = join(tempDir(), "vectors");
  let loggerSent: Buffer[] = [];
  const t0 = Date.parse("2026-05-01T00:00:00Z") * 1000;
  let now = t0;

  before(async () => {
    loggerSent = await fromLogger(LOGGER_RUNS);
    const store = await Store.open(root, { clock: () => now });
    const router = await store.stream("router", "syslog");
    for (const m of loggerSent) {
      now += 1_000_000;
      router.appendRecords([m]);
    }
    const work = await store.stream("work", "app");
    now += 1_000_000;
    work.appendCollector("note", "<11>1 - h sshd - - - M9 a collector record, never syslog");
    work.appendRecords([Buffer.from("M10 sshd started (no syslog header)")]);
    work.appendRecords([Buffer.from("<11>1 - h sshd - - - M11 failed, from a file")]);
    await store.close();
    const vstore = await Store.open(vectorRoot, { clock: () => now });
    const vectors = await vstore.stream("vectors", "syslog");
    for (const v of VECTORS) vectors.appendRecords([rawOf(v)]);
    await vstore.close();
  });

  const run = (...args: string[]) => logward(["search", ...args, "--store", root]);
  const find = async (...args: string[]) => {
    const r = await run(...args, "--json");
    assert.ok(r.code === 0 || r.code === 1, `${args.join(" ")}: ${r.stderr}`);
    return markers(r.stdout);
  };

  test("logger's messages are what the tests expect (escaping included)", () => {
    assert.equal(loggerSent.length, 8);
    assert.match(loggerSent[0]!.toString(), /^<35>1 \S+ \S+ sshd \d+ LOGIN \[/);
    assert.ok(loggerSent[0]!.includes('note="say \\"hi\\" \\\\ ok\\]"'));
    assert.match(loggerSent[5]!.toString(), /^<24>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ tab\there: M6/);
    assert.match(loggerSent[7]!.toString(), /^<37>1 - - sshd-keygen - - - M8/);
  });

  test("--field app, host, procid, msgid, facility: exact values and globs", async () => {
    assert.deepEqual(await find("--field", "app=sshd"), ["M1", "M2", "M11"]);
    assert.deepEqual(await find("--field", "app=sshd*", "--origin", "router"), ["M1", "M2", "M8"]);
    assert.deepEqual(await find("--field", "app=ss?d"), ["M1", "M2", "M11"]);
    // the claimed HOSTNAME, in any case; logger -rfc5424=nohost sends none
    const host = hostname().split(".")[0]!.toUpperCase();
    assert.deepEqual(await find("--field", `host=${host}*`, "--origin", "router"), [
      "M1",
      "M2",
      "M3",
      "M4",
      "M5",
      "M6",
      "M7",
    ]);
    assert.deepEqual(await find("--field", "procid=4242"), ["M5"]);
    assert.deepEqual(await find("--field", "msgid=502"), ["M5"]);
    assert.deepEqual(await find("--field", "msgid=LOGIN", "--field", "app=sshd"), ["M1"]);
    assert.deepEqual(await find("--field", "facility=auth", "--origin", "router"), ["M1", "M8"]);
    assert.deepEqual(await find("--field", "facility=security", "--origin", "router"), ["M1", "M8"]);
    assert.deepEqual(await find("--field", "facility=10", "--origin", "router"), ["M2"]);
    assert.deepEqual(await find("--field", "facility=local*", "--origin", "router"), ["M5", "M7"]);
    assert.deepEqual(await find("--field", "facility=LOCAL3", "--origin", "router"), ["M5"]);
    assert.deepEqual(await find("--field", "app=nobody"), []);
    assert.equal((await run("--field", "app=nobody")).code, 1);
  });

  test("--severity: one, ..X (X or more severe), X.. (X or less), ranges, numbers, aliases", async () => {
    const r = (...a: string[]) => find(...a, "--origin", "router");
    assert.deepEqual(await r("--severity", "..err"), ["M1", "M5", "M6"]);
    assert.deepEqual(await r("--severity", "warning.."), ["M2", "M3", "M4", "M7", "M8"]);
    assert.deepEqual(await r("--severity", "warn"), ["M4"]);
    assert.deepEqual(await r("--severity", "4"), ["M4"]);
    assert.deepEqual(await r("--severity", "crit..err"), ["M1", "M5"]);
    assert.deepEqual(await r("--severity", "3..2"), ["M1", "M5"]);
    assert.deepEqual(await r("--severity", "PANIC"), ["M6"]);
    assert.deepEqual(await r("--field", "severity=..0"), ["M6"]);
    // both: the intersection
    assert.deepEqual(await r("--severity", "..err", "--field", "severity=crit.."), ["M1", "M5"]);
  });

  test('escaped bytes in the header are read as sent: SD \\" \\\\ \\], a TAB in a TAG, a byte not UTF-8', async () => {
    assert.deepEqual(await find("--field", "sd=login@32473"), ["M1"]);
    assert.deepEqual(await find("--field", 'sd=login@32473.note=say "hi" \\ ok]'), ["M1"]);
    assert.deepEqual(await find("--field", "sd=login@32473.user=r*"), ["M1"]);
    assert.deepEqual(await find("--field", "sd=login@32473.user=alice"), []);
    assert.deepEqual(await find("--field", "sd=timeQuality.tzKnown=1", "--field", "app=nginx"), ["M5"]);
    // stored as "tab\there:", which the stored bytes would take for a TAG
    assert.deepEqual(await find("--field", "app=tab*"), []);
    assert.deepEqual(await find("--field", "host=tab*"), []);
    // a backslash and an ESC in MSG only: unescaped, the header is logger's
    assert.deepEqual(await find("--field", "app=app", "--severity", "debug"), ["M7"]);
    // the JSON of the SD: values as sent, escaped as a payload is
    const j = await run("--field", "sd=login@32473", "--json");
    const syslog = (JSON.parse(j.stdout.toString()) as { syslog: ReturnType<typeof syslogJson> }).syslog;
    assert.deepEqual((syslog.sd as Array<{ id: string }>).at(-1), {
      id: "login@32473",
      params: [
        ["user", "root"],
        ["note", 'say "hi" \\\\ ok]'],
      ],
    });
    assert.equal(syslog.app, "sshd");
    assert.equal(syslog.msgid, "LOGIN");
    assert.equal(syslog.facility, 4);
    assert.equal(syslog.severity, 3);
    assert.equal(syslog.header, "rfc5424");
  });

  test("filters AND with the pattern, --regex, --ignore-case, globs, the time window, --count", async () => {
    assert.deepEqual(await find("Failed", "--field", "app=sshd", "--severity", "..err"), ["M1"]);
    assert.deepEqual(await find("Accepted", "--field", "app=sshd", "--severity", "..err"), []);
    assert.deepEqual(await find("failed", "--ignore-case", "--field", "app=sshd"), ["M1", "M11"]);
    assert.deepEqual(await find("M[0-9] (Failed|upstream)", "--regex", "--severity", "..crit"), ["M5"]);
    assert.deepEqual(await find("--field", "app=sshd", "--origin", "wo*"), ["M11"]);
    assert.deepEqual(await find("--field", "app=sshd", "--stream", "sys*"), ["M1", "M2"]);
    // M1 and M2 were received 1 s and 2 s after t0
    const at = (s: number) => new Date((t0 + s * 1_000_000) / 1000).toISOString();
    assert.deepEqual(await find("--field", "app=sshd", "--since", at(2), "--until", at(5)), ["M2"]);
    const count = await run("--field", "app=sshd", "--count");
    assert.equal(count.stdout.toString(), "router/syslog 2\nwork/app 1\ntotal 3\n");
    const bySeverity = await run("--severity", "..err", "--origin", "router", "--count");
    assert.equal(bySeverity.stdout.toString(), "router/syslog 3\ntotal 3\n");
    const both = await run("M", "--severity", "..err", "--origin", "router", "--count");
    assert.equal(both.stdout.toString(), "router/syslog 3\ntotal 3\n");
  });

  test("collector records never match a field filter, though their text looks like syslog", async () => {
    assert.deepEqual(await find("--severity", "0..7", "--origin", "work"), ["M11"]);
    assert.deepEqual(await find("M9", "--field", "app=sshd"), []);
    assert.deepEqual(await find("M9"), ["M9"]);
  });

  test("--json is unchanged without a filter; --parse or a filter adds the syslog object last", async () => {
    const plain = await run("M3", "--json");
    const o = JSON.parse(plain.stdout.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ["origin", "stream", "time", "seq", "kind", "payload"]);
    const parsed = await run("M3", "--json", "--parse");
    const line = parsed.stdout.toString();
    // byte for byte the plain line, with the syslog object before the closing brace
    assert.ok(line.startsWith(plain.stdout.toString().trimEnd().slice(0, -1)), line);
    const p = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(p), ["origin", "stream", "time", "seq", "kind", "payload", "syslog"]);
    assert.deepEqual(
      { ...(p.syslog as object), timestamp: null, host: null },
      {
        header: "rfc3164",
        facility: 9,
        severity: 6,
        timestamp: null,
        host: null,
        app: "cron",
        procid: null,
        msgid: null,
        sd: null,
      },
    );
    // --parse without --json prints what search always prints
    assert.deepEqual((await run("M3", "--parse")).stdout, (await run("M3")).stdout);
  });

  test("every ported vector: fields read from the stored (escaped) record are those of the raw bytes", async () => {
    let k = 0;
    for await (const v of readRecords(vectorRoot, [{ origin: "vectors", stream: "syslog" }], {})) {
      const p = parseLine(v.block, v.start, v.end)!;
      const vector = VECTORS[k++]!;
      const raw = rawOf(vector);
      const want = parseSyslog(raw);
      const got = recordFields(v.block, p);
      assert.deepEqual(got, want, vector.name);
      // and a filter on each field the vector has finds it, one changed value does not
      const e = vector.expect;
      const specs: FieldSpec[] = [];
      const add = (key: string, value: string | number | null) => {
        if (value !== null && !String(value).includes("\uFFFD") && !/[*?]/.test(String(value)))
          specs.push({ option: "--field", key, value: String(value) });
      };
      add("facility", e.facility);
      add("severity", e.severity);
      add("host", e.hostname);
      add("app", e.appName);
      add("procid", e.procId);
      add("msgid", e.msgId);
      const sd = e.structuredData?.[0];
      if (sd) add("sd", sd.params[0] ? `${sd.id}.${sd.params[0][0]}=${sd.params[0][1]}` : sd.id);
      const filter = compileSyslogFilter(specs);
      if (!filter) continue;
      assert.ok(syslogMatches(filter, v.block, p), `${vector.name}: ${JSON.stringify(specs)}`);
      const last = specs.at(-1)!;
      const wrong =
        last.key === "facility"
          ? String((e.facility! + 1) % 24)
          : last.key === "severity"
            ? String((e.severity! + 1) % 8)
            : `${last.value}x`;
      const miss = compileSyslogFilter([...specs.slice(0, -1), { ...last, value: wrong }])!;
      assert.ok(!syslogMatches(miss, v.block, p), `${vector.name}: ${last.key} ${wrong} must not match`);
      // the text needle a filter searches by is in the stored line when the record matches
      if (filter.needle)
        assert.ok(matchLine(v, { needle: filter.needle, re: null, fields: filter }), vector.name);
    }
    assert.equal(k, VECTORS.length);
    assert.ok(k > 100);
  });

  test("the syslog JSON escapes its strings as a payload is; a byte that is not UTF-8 is U+FFFD", () => {
    const raw = Buffer.concat([
      Buffer.from("<13>1 - h"),
      Buffer.from([0xff]),
      Buffer.from('ost \u202eapp - - [x a="tab\there"] m'),
    ]);
    const stored = escapePayload(raw);
    const line = Buffer.from(`2026-05-01T00:00:00.000000Z 1 . ${stored.toString()}`);
    const p = parseLine(line, 0, line.length)!;
    const j = syslogJson(recordFields(line, p));
    assert.equal(j.host, "h\uFFFDost");
    assert.equal(j.app, "\\u202eapp");
    assert.deepEqual(j.sd, [{ id: "x", params: [["a", "tab\\there"]] }]);
    // and the filters read the raw values
    const match = (spec: string) => {
      const [key, value] = [spec.slice(0, spec.indexOf("=")), spec.slice(spec.indexOf("=") + 1)];
      return syslogMatches(compileSyslogFilter([{ option: "--field", key, value }])!, line, p);
    };
    assert.ok(match("host=h?ost"));
    assert.ok(!match("host=h\\xffost"));
    assert.ok(match("app=\u202eapp"));
    assert.ok(match("sd=x.a=tab\there"));
    assert.ok(!match("sd=x.a=tab\\there"));
  });

  test("bad filter values: one sentence, exit 2, nothing on stdout", async () => {
    const cases: [string[], RegExp][] = [
      [["--severity", "bogus"], /--severity 'bogus' is not a severity: give a name \(emerg, alert/],
      [["--severity", ".."], /--severity '\.\.' is not a severity/],
      [["--severity", "8"], /--severity '8' is not a severity/],
      [["--field", "colour=red"], /--field 'colour=red' is not KEY=VALUE with KEY one of facility, severity/],
      [["--field", "app"], /--field 'app' is not KEY=VALUE/],
      [["--field", "app="], /--field app has no value; give one, e\.g\. app=sshd/],
      [["--field", "facility=nosuch"], /--field facility 'nosuch' is not a facility/],
      [["--field", "severity=worst"], /--field severity 'worst' is not a severity/],
      [["--field", "sd=x.=y"], /--field sd 'x\.=y' is neither an SD-ID nor SD-ID\.PARAM=VALUE/],
      [["--field", "sd=x=y"], /--field sd 'x=y' is neither an SD-ID nor SD-ID\.PARAM=VALUE/],
      [[], /'logward search' takes 1 argument, not 0 \(or a --field or --severity filter\)/],
      [["--parse"], /'logward search' takes 1 argument, not 0/],
      // an echoed value is escaped like every CLI message
      [["--field", "host\x1b[2J=x"], /--field 'host\\x1b\[2J=x' is not KEY=VALUE/],
      [["--severity", "\u202eerr\x07"], /--severity '\\u202eerr\\x07' is not a severity/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/u);
      assert.equal(r.stdout.length, 0);
    }
  });
});

describe("a running collector: the web UI's search with syslog filters, objects, --follow", () => {
  const store = join(tempDir(), "store");
  let d: Daemon;
  let base: string;
  let cookie: string;

  const get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(`${base}${path}`, { headers: { Cookie: cookie } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  const hits = async (query: string) => {
    const r = await get(`/api/search?${query}`);
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { hits: Array<{ payload: string; syslog?: Record<string, unknown> }> })
      .hits;
  };

  before(async () => {
    d = await serve(store);
    const login = uiLogin(store);
    base = new URL(login).origin;
    await ingest(
      store,
      "lines",
      [
        "<35>1 2026-05-01T10:00:00Z gw sshd 77 LOGIN - U1 Failed password",
        "<38>1 2026-05-01T10:00:01Z gw sshd 78 - - U2 Accepted publickey",
        "<78>May  1 10:00:02 gw cron[99]: U3 (root) CMD",
        '<187>1 - gw nginx - - [req@1 path="/a\\"b"] U4 upstream timed out',
        "U5 no header",
        "",
      ].join("\n"),
      { QREXEC_REMOTE_DOMAIN: "router", QREXEC_SERVICE_ARGUMENT: "syslog" },
    );
    // a text object whose line looks like syslog: no record, so no syslog header to filter on
    const blob = await ingest(store, "blob", "<35>1 - gw sshd - - - U9 a line in an object\n", {
      QREXEC_REMOTE_DOMAIN: "router",
      QREXEC_SERVICE_ARGUMENT: "files",
    });
    assert.equal(blob.code, 0, blob.stderr);
    cookie = await new Promise<string>((resolve, reject) => {
      request(login, (res) => {
        res.resume();
        resolve(String(res.headers["set-cookie"]).split(";")[0]!);
      })
        .on("error", reject)
        .end();
    });
  });
  after(async () => {
    await d.stop();
  });

  test("severity and app as query parameters, with or without q; hits carry the syslog object", async () => {
    const sev = await hits("severity=..err");
    assert.deepEqual(
      sev.map((h) => h.payload.split(" ").find((w) => /^U\d$/.test(w))),
      ["U1", "U4"],
    );
    assert.equal(sev[0]!.syslog!.app, "sshd");
    assert.deepEqual(
      (await hits("app=sshd")).map((h) => h.syslog!.procid),
      ["77", "78"],
    );
    assert.deepEqual(
      (await hits("q=Accepted&app=ss*&severity=info")).map((h) => h.syslog!.severity),
      [6],
    );
    assert.deepEqual(
      (await hits("app=cron&severity=info")).map((h) => h.syslog!.procid),
      ["99"],
    );
    assert.equal((await hits("field=msgid%3DLOGIN")).length, 1);
    assert.equal((await hits("field=sd%3Dreq%401.path%3D%2Fa%22b&origin=rout*")).length, 1);
    assert.equal((await hits("app=sshd&severity=..err&field=host%3DGW")).length, 1);
    // no filter: the answer is as it was, without syslog objects
    const plain = await hits("q=U2");
    assert.deepEqual(Object.keys(plain[0]!), ["origin", "stream", "time", "seq", "kind", "payload"]);
  });

  test("objects are searched without a field filter, never with one", async () => {
    const search = (...a: string[]) => logward(["search", ...a, "--store", store]);
    assert.match((await search("U9")).stdout.toString(), /^router\/files \S+ \d+:L1 <35>1 - gw sshd/m);
    const filtered = await search("U9", "--field", "app=sshd");
    assert.equal(filtered.code, 1, filtered.stderr);
    assert.equal(filtered.stdout.length, 0);
    assert.equal(filtered.stderr, "");
    assert.equal(
      (await search("--field", "app=sshd", "--count")).stdout.toString(),
      "router/syslog 2\ntotal 2\n",
    );
    assert.equal((await hits("q=U9&app=sshd")).length, 0);
    assert.equal((await hits("q=U9")).length, 0); // the UI's search never looked into objects
  });

  test("a bad filter is a 400 with LW_USAGE and one sentence", async () => {
    for (const [query, message] of [
      ["severity=bogus", /^severity 'bogus' is not a severity/],
      ["field=colour%3Dred", /^field 'colour=red' is not KEY=VALUE/],
      ["field=facility%3Dnone", /^field facility 'none' is not a facility/],
      ["q=", /The search pattern is empty/],
    ] as const) {
      const r = await get(`/api/search?${query}`);
      assert.equal(r.status, 400, query);
      const e = (JSON.parse(r.body) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, "LW_USAGE", query);
      assert.match(e.message, message, query);
    }
  });

  test("the page's search form has the severity and app fields, built without inline script", async () => {
    const js = await get("/app.js");
    assert.match(js.body, /id: "severity"/);
    assert.match(js.body, /id: "app"/);
    const page = await get("/");
    assert.doesNotMatch(page.body, /<script>|\son[a-z]+=|\sstyle=/);
  });

  test("--follow with filters prints only new records that pass them", async () => {
    const live = { QREXEC_REMOTE_DOMAIN: "router", QREXEC_SERVICE_ARGUMENT: "live" };
    await ingest(store, "lines", "<35>1 - gw sshd - - - U20 old failure\n", live);
    const child = spawn(
      process.execPath,
      [
        BIN,
        "search",
        "--field",
        "app=sshd",
        "--severity",
        "..err",
        "--stream",
        "live",
        "--follow",
        "--json",
        "--store",
        store,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let out = "";
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const waitFor = async (re: RegExp) => {
        for (let k = 0; k < 100 && !re.test(out); k++) await new Promise((r) => setTimeout(r, 50));
        assert.match(out, re);
      };
      await waitFor(/U20/);
      await ingest(
        store,
        "lines",
        "<38>1 - gw sshd - - - U21 info\n<35>1 - gw cron - - - U22 other app\n<34>1 - gw sshd - - - U23 new crit\n",
        live,
      );
      await waitFor(/U23/);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      const got = out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { payload: string; syslog: { severity: number } });
      assert.deepEqual(
        got.map((h) => [h.payload.split(" ")[7], h.syslog.severity]),
        [
          ["U20", 3],
          ["U23", 2],
        ],
      );
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
