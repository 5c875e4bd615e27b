// Where everything lives in a store: the one home of every file and directory name under
// <store>/ and of the functions that join them (docs/FORMAT.md, "Layout"). Paths built from
// hostile origin and stream names go through names.ts (streamDir), which validates them; this
// module only joins fixed names onto a root or a stream directory that is already safe.
//
//   <store>/FORMAT                        the format marker (format.ts)
//   <store>/run/                          the running collector's files:
//     writer.lock, writer.pid             the writer lock and its holder (lock.ts)
//     ingest.sock                         the local ingest socket (collector, `ingest`, `rm`)
//     policy.json                         each origin's quota state (policy-state.ts)
//     ui-url                              the web UI's address with its token (`serve`)
//     outputs.json                        every output's state (output-state.ts)
//     outputs/<name>/cursors.json         an output's durable cursors (src/output/cursors.ts)
//   <store>/origins/<origin>/<stream>/    a stream (names.ts):
//     00000000000000000001.log[.zst]      its segments (segmentName below)
//     index.json                          its segment index (segment.ts)
//     objects/<sha256>.zst                its blobs (objects.ts)
//
// Joins use node:path join, except originsDir, which resolves (its callers compare prefixes).

import { join, resolve } from "node:path";
import { LogwardError } from "../errors.ts";

/** The format marker at the store's root. */
export const FORMAT_FILE = "FORMAT";
/** The directory of origins at the store's root. */
export const ORIGINS_DIR = "origins";
/** The directory of the running collector's files at the store's root. */
export const RUN_DIR = "run";
/** In a run directory (the store's, or a sender's spool): the writer lock and its holder's pid. */
export const WRITER_LOCK_FILE = "writer.lock";
export const WRITER_PID_FILE = "writer.pid";
/** In the store's run directory. */
export const INGEST_SOCKET = "ingest.sock";
export const POLICY_STATE_FILE = "policy.json";
export const UI_URL_FILE = "ui-url";
/** In the store's run directory: the outputs' state, and each output's own directory. */
export const OUTPUT_STATE_FILE = "outputs.json";
export const OUTPUTS_DIR = "outputs";
export const OUTPUT_CURSORS_FILE = "cursors.json";
/** The current sealing key and its epoch (0600; docs/SEALS.md). */
export const SEAL_KEY_FILE = "seal.key";
/** In a stream directory: the segment index and the blob objects' directory. */
export const INDEX_FILE = "index.json";
export const OBJECTS_DIR = "objects";

/** An object's name without `.zst`: its SHA-256 in lowercase hex. */
export const SHA256_RE = /^[0-9a-f]{64}$/;

const SEGMENT_NAME_RE = /^(\d{20})\.log(\.zst)?$/;

/** <store>/FORMAT */
export function formatPath(root: string): string {
  return join(root, FORMAT_FILE);
}

/** <store>/origins, resolved: the directory that holds all origins of a store. */
export function originsDir(root: string): string {
  return resolve(root, ORIGINS_DIR);
}

/** <store>/run */
export function runDir(root: string): string {
  return join(root, RUN_DIR);
}

/** <store>/run/ingest.sock */
export function ingestSocketPath(root: string): string {
  return join(root, RUN_DIR, INGEST_SOCKET);
}

/** <store>/run/policy.json */
export function policyStatePath(root: string): string {
  return join(root, RUN_DIR, POLICY_STATE_FILE);
}

/** <store>/run/ui-url */
export function uiUrlPath(root: string): string {
  return join(root, RUN_DIR, UI_URL_FILE);
}

/** <store>/run/outputs.json */
export function outputStatePath(root: string): string {
  return join(root, RUN_DIR, OUTPUT_STATE_FILE);
}

/** <store>/run/outputs/<name>: `name` is an output's name, checked by the configuration. */
export function outputDir(root: string, name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name === "." || name === "..")
    throw new LogwardError("LW_INTERNAL", "An output name must be a valid name.");
  return join(root, RUN_DIR, OUTPUTS_DIR, name);
}

/** <store>/run/outputs/<name>/cursors.json */
export function outputCursorsPath(root: string, name: string): string {
  return join(outputDir(root, name), OUTPUT_CURSORS_FILE);
}

/** <store>/run/seal.key */
export function sealKeyPath(root: string): string {
  return join(root, RUN_DIR, SEAL_KEY_FILE);
}

/** <run dir>/writer.lock (a store's run directory or a spool directory). */
export function writerLockPath(dir: string): string {
  return join(dir, WRITER_LOCK_FILE);
}

/** <run dir>/writer.pid */
export function writerPidPath(dir: string): string {
  return join(dir, WRITER_PID_FILE);
}

/** <stream>/index.json */
export function indexPath(streamDirectory: string): string {
  return join(streamDirectory, INDEX_FILE);
}

/** <stream>/objects */
export function objectsDir(streamDirectory: string): string {
  return join(streamDirectory, OBJECTS_DIR);
}

/**
 * <stream>/objects/<sha256>.zst: where a blob's object is (or would be) stored; `sha256` must be
 * the 64 lowercase hex digits logward computed.
 */
export function objectPath(streamDirectory: string, sha256: string): string {
  if (!SHA256_RE.test(sha256))
    throw new LogwardError("LW_INTERNAL", "An object name must be a SHA-256 in lowercase hex.");
  return join(streamDirectory, OBJECTS_DIR, `${sha256}.zst`);
}

/**
 * A segment's file name: the sequence number of its first record, zero-padded to 20 digits so
 * that names sort in sequence order, then `.log`, and `.zst` once compressed.
 */
export function segmentName(firstSeq: number, compressed: boolean): string {
  return `${String(firstSeq).padStart(20, "0")}.log${compressed ? ".zst" : ""}`;
}

/** Parses a segment file name; null for anything else (index, temporary files). */
export function parseSegmentName(name: string): { firstSeq: number; compressed: boolean } | null {
  const m = SEGMENT_NAME_RE.exec(name);
  if (!m) return null;
  const firstSeq = Number(m[1]);
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) return null;
  return { firstSeq, compressed: m[2] !== undefined };
}

/** <stream>/<segment name> */
export function segmentPath(streamDirectory: string, firstSeq: number, compressed: boolean): string {
  return join(streamDirectory, segmentName(firstSeq, compressed));
}
