// Origin and stream names, and the one function that turns them into paths.
// A name comes from the channel (qrexec's QREXEC_REMOTE_DOMAIN, a service argument), so it is
// hostile until validated: a bad name is an error, never a path.

import { closeSync, constants, fstatSync, lstatSync, openSync } from "node:fs";
import { resolve, sep } from "node:path";
import { LogwardError } from "../errors.ts";
import { ORIGINS_DIR, originsDir } from "./layout.ts";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The origin of the collector's own events. It starts with "_", which no sender's name may
 * (names from a channel must start with a letter or digit), so no VM can write into it.
 */
export const COLLECTOR_ORIGIN = "_logward";

/** True for names a channel may give (origins and streams). */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name); // "." and ".." cannot match: the first character is alphanumeric
}

/** True for origin directories that may exist in a store: channel names and the collector's own. */
export function isStoredOrigin(name: string): boolean {
  return name === COLLECTOR_ORIGIN || NAME_RE.test(name);
}

/** Shows a rejected name safely: JSON quoting escapes controls; long names are cut. */
function quoteName(name: string): string {
  const shown = name.length > 80 ? `${name.slice(0, 80)}…` : name;
  return JSON.stringify(shown).replace(
    /[\u0080-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => {
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    },
  );
}

export function checkName(kind: "origin" | "stream", name: string): string {
  if (typeof name !== "string" || !isValidName(name)) {
    throw new LogwardError(
      "LW_BAD_NAME",
      `Invalid ${kind} name ${quoteName(String(name))}: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit.`,
    );
  }
  return name;
}

/**
 * The only way a path inside a store is built from names. Validates every name and checks that
 * the result stays under `<root>/origins`, so no origin or stream name can escape the store.
 */
export function streamDir(root: string, origin: string, stream?: string): string {
  const base = originsDir(root);
  if (origin !== COLLECTOR_ORIGIN) checkName("origin", origin);
  if (stream !== undefined) checkName("stream", stream);
  const path = stream === undefined ? resolve(base, origin) : resolve(base, origin, stream);
  if (!path.startsWith(base + sep)) {
    throw new LogwardError(
      "LW_BAD_NAME",
      `The name ${quoteName(origin)} would leave the store; it is refused.`,
    );
  }
  const owner = storeOwner(root);
  checkDirFd(base, ORIGINS_DIR, owner); // origins/ itself, planted as a link, leads everything out
  refuseLink(resolve(base, origin), origin, owner);
  if (stream !== undefined) refuseLink(path, `${origin}/${stream}`, owner);
  return path;
}

/** The uid owning the store's root directory, or undefined when it is not there (yet). */
function storeOwner(root: string): number | undefined {
  try {
    return lstatSync(root).uid;
  } catch {
    return undefined;
  }
}

/**
 * True when `uid` may own what the store follows or writes: root, or the store's owner. A
 * directory or file another user owns was planted (or moved in) by that user, who could change
 * it under the collector: a link swapped in between two uses, a file the collector then writes.
 */
export function trustedOwner(uid: number, owner: number | undefined): boolean {
  return uid === 0 || owner === undefined || uid === owner;
}

/**
 * Refuses a directory named by an origin or stream that is a symbolic link (or anything but a
 * directory), or that another user owns (not root, not the store's owner): one planted in the
 * store must not lead a write or a read out of it. A path not there yet passes (the writer
 * creates it as a directory). Checked again at every use.
 */
function refuseLink(path: string, name: string, owner: number | undefined): void {
  checkDirFd(path, name, owner);
}

/**
 * Checks a store directory without a window between the check and what is checked: it is
 * opened with O_DIRECTORY|O_NOFOLLOW (a link or a file there fails the open itself) and its
 * owner is read with fstat from that open descriptor, so a link swapped in after an lstat
 * cannot pass. False when it does not exist (or cannot be opened: the use that follows says
 * why); throws LW_UNSAFE_PATH for a link, a non-directory or another user's directory.
 */
function checkDirFd(path: string, name: string, owner: number | undefined): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "ENOTDIR") throw unsafePath(name, path);
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isDirectory()) throw unsafePath(name, path);
    if (!trustedOwner(Number(st.uid), owner)) throw foreignOwner(name, path, Number(st.uid));
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Refuses a fixed directory of the store (`run`, `origins`, `run/outputs/<name>`, a stream's
 * `objects`) that is a link, not a directory, or another user's: logward writes and removes
 * files in them, so a planted link would lead that outside the store. `name` is the path
 * relative to the root, for the message. True when it exists.
 */
export function checkStoreDir(root: string, path: string, name: string): boolean {
  return checkDirFd(path, name, storeOwner(root));
}

/**
 * The identity (device and inode) of the directories a path under the store runs through, each
 * opened O_DIRECTORY|O_NOFOLLOW: a writer notes it when it opens its stream and compares it
 * before it creates or reopens a file by path there, so an origin or stream directory swapped
 * for a link (or another directory) meanwhile is refused, not written through. `dirs` from the
 * outermost. Null when one of them is a link or not a directory.
 */
export function dirsIdentity(dirs: readonly string[]): string | null {
  let id = "";
  for (const dir of dirs) {
    let fd: number;
    try {
      fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ELOOP" || code === "ENOTDIR") return null;
      throw err;
    }
    try {
      const st = fstatSync(fd);
      id += `${st.dev}:${st.ino}/`;
    } finally {
      closeSync(fd);
    }
  }
  return id;
}

/** LW_UNSAFE_PATH for a store entry that another user (`uid`: not root, not the store's owner) owns. */
export function foreignOwner(name: string, path: string, uid: number): LogwardError {
  return new LogwardError(
    "LW_UNSAFE_PATH",
    `${quoteName(name)} in the store belongs to another user (uid ${uid}), neither root nor the store's owner (${path}); logward does not follow or write it: remove it, or chown it to the store's owner if it is yours.`,
  );
}

/** LW_UNSAFE_PATH for a store entry named `name` at `path` that is not a plain directory or file. */
export function unsafePath(name: string, path: string): LogwardError {
  return new LogwardError(
    "LW_UNSAFE_PATH",
    `${quoteName(name)} in the store is a symbolic link or not a plain file or directory (${path}); logward does not follow it, remove it.`,
  );
}

/** A glob of names (* and ?) as an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\-]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/** What a glob of origin or stream names may hold: name characters, * and ?. */
export const GLOB_RE = /^[A-Za-z0-9_.*?-]{1,64}$/;

/** A glob given as `option` (a command-line option or API parameter), checked; else LW_USAGE. */
export function checkGlob(option: string, glob: string): RegExp {
  if (!GLOB_RE.test(glob))
    throw new LogwardError(
      "LW_USAGE",
      `${option} must be a glob of letters, digits, '_', '.', '-', '*' and '?'.`,
    );
  return globToRegExp(glob);
}

/** An origin to read: a valid origin name, or the collector's own `_logward`. */
export function checkStoredOrigin(name: string): string {
  return name === COLLECTOR_ORIGIN ? name : checkName("origin", name);
}
