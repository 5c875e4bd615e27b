// What the readers of a store ask of the file system, over node:fs's callback functions rather
// than node:fs/promises: loading fs/promises costs a reader 2 ms of its start (it brings the
// readline interface, the REPL's history and the file watchers with it), against a one-minute
// `show` of about 50 ms. The writer keeps FileHandle (src/store/files.ts loads fs/promises when
// a writer first asks for it).

import type { Dirent, Stats } from "node:fs";
import { close, fstat, lstat, open, read, readdir } from "node:fs";

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

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => {
      read(this.fd, buffer, offset, length, position, (err, bytesRead) =>
        err ? reject(err) : resolve({ bytesRead }),
      );
    });
  }

  stat(): Promise<Stats> {
    return new Promise((resolve, reject) => {
      fstat(this.fd, (err, st) => (err ? reject(err) : resolve(st)));
    });
  }

  /** The whole file from its start. */
  async readAll(): Promise<Buffer> {
    const { size } = await this.stat();
    let buf = Buffer.allocUnsafe(Math.max(size, 4096));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const grown = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(grown, 0, 0, len);
        buf = grown;
      }
      const { bytesRead } = await this.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) return buf.subarray(0, len);
      len += bytesRead;
    }
  }

  close(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return Promise.resolve();
    this.fd = -1;
    return new Promise((resolve, reject) => {
      close(fd, (err) => (err ? reject(err) : resolve()));
    });
  }
}

/** `path` opened with `flags` (numeric open flags). */
export function openForReading(path: string, flags: number): Promise<ReadHandle> {
  return new Promise((resolve, reject) => {
    open(path, flags, (err, fd) => (err ? reject(err) : resolve(new ReadHandle(fd))));
  });
}

export function listDir(dir: string): Promise<Dirent[]> {
  return new Promise((resolve, reject) => {
    readdir(dir, { withFileTypes: true }, (err, entries) => (err ? reject(err) : resolve(entries)));
  });
}

export function statNoFollow(path: string): Promise<Stats> {
  return new Promise((resolve, reject) => {
    lstat(path, (err, st) => (err ? reject(err) : resolve(st)));
  });
}
