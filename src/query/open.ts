// Opening a selection in a viewer (`logward open`, the web UI's "open in viewer"): the viewer
// is chosen by the stream's type from `[viewers]`, and gets a private temporary file (0600 in
// a 0700 directory) that is removed when it exits. On Qubes the viewer is `qvm-open-in-dvm
// --view-only`, so attacker-controlled content is looked at in a disposable qube (Qubes issue
// #6285) and nothing comes back from it.

import { spawn } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ioError, LogwardError } from "../errors.ts";
import { BLOB_EXTENSIONS } from "../store/blob-type.ts";
import { pwriteAll } from "../store/files.ts";
import { streamDir } from "../store/names.ts";
import { readStreamLines, type StreamRef, type Window } from "../store/read.ts";
import { parseLine } from "../store/record.ts";
import { readIndex } from "../store/segment.ts";
import { lineEmitter, Output } from "./emit.ts";
import { findObject, objectBytes, type StoredObject } from "./objects.ts";
import { readRecords } from "./records.ts";

export function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

/**
 * The format the stream was last received in (its newest `!open`), or "lines". index.json
 * keeps it (docs/FORMAT.md, "Index"); a store written before it did, or an index that cannot be
 * read, is scanned for the newest `!open` instead.
 */
export async function streamType(root: string, ref: StreamRef): Promise<string> {
  const index = await readIndex(streamDir(root, ref.origin, ref.stream)).catch(() => null);
  if (index?.type) return index.type;
  let type = "lines";
  for await (const block of readStreamLines(root, ref.origin, ref.stream)) {
    let start = 0;
    for (let lf = block.indexOf(10); lf !== -1; lf = block.indexOf(10, start)) {
      const p = parseLine(block, start, lf);
      if (p?.kind === "!open") {
        const m = / format=([a-z]+)/.exec(block.toString("latin1", p.payloadStart, p.payloadEnd));
        if (m) type = m[1]!;
      }
      start = lf + 1;
    }
  }
  return type;
}

/**
 * The viewer's argv (with "{file}") for `type`: `[viewers]`, else qvm-open-in-dvm if installed,
 * else (only for escaped text and a terminal) less. Raw bytes never go to an unconfigured
 * local viewer.
 */
export function chooseViewer(
  viewers: Readonly<Record<string, readonly string[]>>,
  type: string,
  opts: { raw: boolean; terminal: boolean },
): readonly string[] {
  // own entries only: a type named "constructor" must not find Object.prototype's function
  const own = (t: string) => (Object.hasOwn(viewers, t) ? viewers[t] : undefined);
  const configured = own(type) ?? own("default");
  if (configured) return configured;
  // --view-only: the disposable never sends the file back (qubes-core-agent-linux
  // qubes-rpc/qopen-in-vm.c), so nothing from the viewer's qube returns into the log qube.
  if (onPath("qvm-open-in-dvm")) return ["qvm-open-in-dvm", "--view-only", "{file}"];
  if (opts.raw)
    throw new LogwardError(
      "LW_USAGE",
      `No viewer is configured for raw ${type} data and qvm-open-in-dvm is not installed; add one under [viewers] in the configuration, or leave out --raw.`,
    );
  if (!opts.terminal)
    throw new LogwardError(
      "LW_USAGE",
      "No viewer is configured and qvm-open-in-dvm is not installed; add a default under [viewers] in the configuration.",
    );
  return ["less", "{file}"];
}

/** A new private (0700) directory under the temporary directory; LW_IO when it cannot be made. */
export function privateDir(prefix: string): { dir: string; remove: () => void } {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), prefix));
  } catch (err) {
    throw ioError("create a private directory in", tmpdir(), err);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A private directory for one file; `remove` deletes both. */
export function privateFile(name: string): { file: string; remove: () => void } {
  const { dir, remove } = privateDir("logward-open-");
  return { file: join(dir, name), remove };
}

/** Starts the viewer on `file`; resolves with its exit code. A viewer that cannot start is LW_USAGE. */
export function runViewer(
  viewer: readonly string[],
  file: string,
  stdio: "inherit" | "ignore",
): { started: Promise<void>; exited: Promise<number | null> } {
  const argv = viewer.map((a) => a.replaceAll("{file}", file));
  const child = spawn(argv[0]!, argv.slice(1), { stdio });
  const started = new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (err) =>
      reject(
        new LogwardError(
          "LW_USAGE",
          `The viewer '${argv[0]}' cannot be run (${err.message}); check [viewers].`,
        ),
      ),
    );
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (c) => resolve(c));
    child.once("error", () => resolve(null));
  });
  return { started, exited };
}

/** The selection as `logward open` gives it to a viewer (escaped lines, or raw bytes), into a new 0600 file. */
export async function writeSelection(
  file: string,
  root: string,
  refs: readonly StreamRef[],
  w: Window,
  mode: "text" | "raw",
): Promise<{ records: number; damaged: number }> {
  const out = new Output(createWriteStream(file, { mode: 0o600 }), file);
  const { emit, damaged } = lineEmitter(out, mode, undefined, refs.length > 1);
  let records = 0;
  for await (const v of readRecords(root, refs, w)) {
    records++;
    const wait = emit(v);
    if (wait) await wait;
  }
  await out.end();
  return { records, damaged: damaged() };
}

/**
 * The web UI's "open in viewer": the stored (escaped) lines of `refs` in `w`, written as
 * `logward open` writes them, in a private file handed to the viewer, which runs
 * without a terminal. Resolves once the viewer started; the file goes when it exits.
 */
export async function openStoredLines(
  root: string,
  refs: readonly StreamRef[],
  w: Window,
  viewers: Readonly<Record<string, readonly string[]>>,
): Promise<{ records: number; viewer: string }> {
  const type = refs.length === 1 ? await streamType(root, refs[0]!) : "lines";
  const viewer = chooseViewer(viewers, type, { raw: false, terminal: false });
  const name = refs.length === 1 ? `${refs[0]!.origin}-${refs[0]!.stream}.log` : `${refs[0]!.origin}.log`;
  const { file, remove } = privateFile(name);
  try {
    const { records } = await writeSelection(file, root, refs, w, "text");
    if (records === 0)
      throw new LogwardError("LW_NOT_FOUND", "No records in that selection; nothing to open.");
    const run = runViewer(viewer, file, "ignore");
    await run.started;
    void run.exited.then(remove);
    return { records, viewer: viewer[0]! };
  } catch (err) {
    remove();
    throw err;
  }
}

/**
 * A selection's file name for a viewer: `<origin>[-<stream>]` and an extension that says what
 * the file holds: `.log` for escaped text and for the raw bytes of a lines stream, `.export`
 * for a journal stream's raw export entries, `.bin` for other raw bytes. Never `.raw`, which
 * desktop MIME databases take for a camera image and would open in a photo tool.
 */
export function selectionFileName(
  origin: string,
  stream: string | undefined,
  raw: boolean,
  type: string,
): string {
  const ext = !raw || type === "lines" ? ".log" : type === "journal" ? ".export" : ".bin";
  return `${origin}${stream ? `-${stream}` : ""}${raw ? "-raw" : ""}${ext}`;
}

/**
 * An object's file name for a viewer: `<origin>-<stream>-<seq>` and its type's extension
 * (`.evtx`, `.bsm`, …; never `.raw`, which desktop MIME databases take for a camera image).
 */
export function objectFileName(o: StoredObject): string {
  return `${o.origin}-${o.stream}-${o.seq}${BLOB_EXTENSIONS[o.type]}`;
}

/**
 * Writes an object's bytes into a new 0600 file, checking its SHA-256 (LW_OBJECT_CORRUPT);
 * `durable`: fdatasyncs the file before closing it.
 */
export async function writeObject(file: string, o: StoredObject, durable = false): Promise<void> {
  const fh = await open(file, "wx", 0o600).catch((err) => {
    throw ioError("create", file, err);
  });
  try {
    let pos = 0;
    for await (const chunk of objectBytes(o) as AsyncIterable<Buffer>) {
      await pwriteAll(fh, chunk, 0, chunk.length, pos).catch((err) => {
        throw ioError("write", file, err);
      });
      pos += chunk.length;
    }
    if (durable)
      await fh.datasync().catch((err) => {
        throw ioError("write", file, err);
      });
  } finally {
    await fh.close();
  }
}

/**
 * `logward open ORIGIN/STREAM --seq N` and the web UI's "Open" on an object: the object's
 * bytes in a private file named for its type, given to the viewer for that type (`[viewers]`
 * evtx = [...], else default, else qvm-open-in-dvm --view-only; a local viewer that was not
 * configured only ever gets a text object, and only on a terminal).
 */
export async function openObject(
  root: string,
  ref: StreamRef,
  seq: number,
  viewers: Readonly<Record<string, readonly string[]>>,
  stdio: "inherit" | "ignore",
): Promise<{ object: StoredObject; viewer: string; exited: Promise<number | null> }> {
  const o = await findObject(root, ref.origin, ref.stream, seq);
  const viewer = chooseViewer(viewers, o.type, { raw: o.type !== "text", terminal: stdio === "inherit" });
  const { file, remove } = privateFile(objectFileName(o));
  try {
    await writeObject(file, o);
    const run = runViewer(viewer, file, stdio);
    await run.started;
    const exited = run.exited.finally(remove);
    return { object: o, viewer: viewer[0]!, exited };
  } catch (err) {
    remove();
    throw err;
  }
}
