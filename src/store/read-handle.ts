// What the readers of a store ask of the file system, over node:fs's callback functions rather
// than node:fs/promises: loading fs/promises costs a reader 2 ms of its start (it brings the
// readline interface, the REPL's history and the file watchers with it), against a one-minute
// `show` of about 50 ms. The writer keeps FileHandle (src/store/files.ts loads fs/promises when
// a writer first asks for it).

import type { Dirent, Stats } from "node:fs";
import { close, fstat, lstat, open, read, readdir, readFile } from "node:fs";

/**
 * A promise of what a node:fs callback function gives. Not util.promisify: importing node:util
 * costs a reader's start about 3 ms (see cli/args.ts).
 */
export function settle<T>(call: (done: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));
}

/** The part of a FileHandle the readers use: both a FileHandle and a ReadHandle are one. */
export interface Readable {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** An open file descriptor, read at positions; close() once, as with a FileHandle. */
export class ReadHandle implements Readable {
  private fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }

  async read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }> {
    const bytesRead = await settle<number>((done) => read(this.fd, buffer, offset, length, position, done));
    return { bytesRead };
  }

  stat(): Promise<Stats> {
    return settle((done) => fstat(this.fd, done));
  }

  /** The whole file (the descriptor is fresh: it reads from the start). */
  readAll(): Promise<Buffer> {
    return settle((done) => readFile(this.fd, done));
  }

  close(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return Promise.resolve();
    this.fd = -1;
    return settle<void>((done) => close(fd, (err) => done(err, undefined)));
  }
}

/** `path` opened with `flags` (numeric open flags). */
export async function openForReading(path: string, flags: number): Promise<ReadHandle> {
  return new ReadHandle(await settle<number>((done) => open(path, flags, done)));
}

export function listDir(dir: string): Promise<Dirent[]> {
  return settle((done) => readdir(dir, { withFileTypes: true }, done));
}

export function statNoFollow(path: string): Promise<Stats> {
  return settle((done) => lstat(path, done));
}
