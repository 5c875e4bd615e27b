// What the syslog listener tests share: a free port, a CA with server and client certificates
// made by the real `openssl` CLI in the test's temp dir, running a peer program to its end,
// and the records a stream holds, as text.

import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { readAll } from "./store.ts";

const run = promisify(execFile);

/** A TCP (and so probably UDP) port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs `cmd` to its end; rejects with its stderr when it fails. */
export async function runPeer(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run(cmd, args, { env: { ...process.env, ...env }, timeout: 30_000 });
  return stdout;
}

export interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A client certificate with CN `client`, signed by `ca`. */
  clientCert: (cn: string) => Promise<{ cert: string; key: string }>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run("openssl", args, { cwd: dir });
}

/** A CA named `name` in `dir`, and a function that signs a certificate for a CN with it. */
async function makeCa(dir: string, name: string) {
  const key = join(dir, `${name}-ca.key`);
  const cert = join(dir, `${name}-ca.crt`);
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    `/CN=${name} test CA`,
  ]);
  const sign = async (cn: string, usage: "serverAuth" | "clientAuth", san = "") => {
    const base = join(dir, `${name}-${cn}`);
    const ext = `${base}.ext`;
    const { writeFileSync } = await import("node:fs");
    writeFileSync(
      ext,
      `extendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n${san ? `subjectAltName=${san}\n` : ""}`,
    );
    await openssl(dir, [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${base}.key`,
      "-out",
      `${base}.csr`,
      "-subj",
      `/CN=${cn}`,
    ]);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      cert,
      "-CAkey",
      key,
      "-CAcreateserial",
      "-out",
      `${base}.crt`,
      "-days",
      "2",
      "-extfile",
      ext,
    ]);
    return { cert: `${base}.crt`, key: `${base}.key` };
  };
  return { cert, sign };
}

/** A CA, a server certificate for 127.0.0.1/localhost, and client certificates on demand. */
export async function makePki(dir: string, name = "good"): Promise<Pki> {
  const ca = await makeCa(dir, name);
  const server = await ca.sign("localhost", "serverAuth", "DNS:localhost,IP:127.0.0.1");
  return {
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: (cn) => ca.sign(cn, "clientAuth"),
  };
}

/** The sender's records of a stream (no collector records), as text. */
export async function storedMessages(store: string, origin: string, stream = "syslog"): Promise<string[]> {
  try {
    return (await readAll(store, origin, stream))
      .filter((r) => r.kind === ".")
      .map((r) => r.payload.toString("latin1"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/**
 * A collector config: a UDP listener on 127.0.0.1:`port` for the fixed origin "sensor", whose
 * 64 KiB quota refuses once full (small segments, so it fills fast): datagrams then drop.
 */
export function refusingUdpSensor(port: number): string {
  return [
    "[[listen]]",
    'transport = "udp"',
    `address = "127.0.0.1:${port}"`,
    'origin = "sensor"',
    "[[policy]]",
    'match = "sensor"',
    'quota = "64KiB"',
    'on_quota = "refuse"',
    "[store]",
    'segment_size = "64KiB"',
  ].join("\n");
}

/** Sends `count` RFC 5424 datagrams numbered 0.. to 127.0.0.1:`port`, pausing 5 ms every `pauseEvery`. */
export async function sendDatagrams(port: number, count: number, pauseEvery = 0): Promise<void> {
  const { createSocket } = await import("node:dgram");
  const sock = createSocket("udp4");
  const body = "x".repeat(100);
  for (let i = 0; i < count; i++) {
    await new Promise<void>((r) => sock.send(`<13>1 - - s - - - ${i} ${body}`, port, "127.0.0.1", () => r()));
    if (pauseEvery > 0 && i % pauseEvery === pauseEvery - 1) await new Promise((r) => setTimeout(r, 5));
  }
  sock.close();
}
