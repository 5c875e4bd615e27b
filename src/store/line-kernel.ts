// The line kernel's JavaScript side: runs line-kernel.wat (WebAssembly SIMD) over a source
// range, one input window at a time, and copies the records it writes to the destination.
//
// Why: in the common case a received line is printable ASCII and its record is the prefix
// followed by the line as is; the kernel frames and writes such lines many at a time, where the
// JavaScript path spent a byte loop and several small copies per line (issue 20). A line that
// is not plain (control bytes, backslash, UTF-8) is written here with escapeInto from the
// kernel's copy of the window, exactly as writeDataRecord writes it, and the kernel goes on
// after it: handing each such line back to the caller cost a call and a copy more per line
// (1.6x the JavaScript path's CPU when every line needs escaping). Only a line over the limit
// or longer than the window goes back to the caller.
//
// A call allocates nothing: one copy of each window in, one copy of the kernel's records out,
// results in fields. The module is compiled once per process, synchronously (about 1 KB).

import { ESCAPE_EXPANSION, escapeInto } from "./escape.ts";
import { LINE_KERNEL_WASM_BASE64 } from "./line-kernel-wasm.ts";
import { LF, TIME_LEN } from "./record.ts";

/** No complete line left in the source range: the rest (if any) is the start of a line. */
export const STOP_DONE = 0;
/**
 * The line at `srcPos` ends at `slowEnd` (its LF) and must be written by the caller: it is
 * longer than `limit`, or than the window (a line shorter than both is always written here).
 */
export const STOP_SLOW = 1;
/**
 * The record of the line at `srcPos` does not fit before `dstEnd`: a plain line's exact size,
 * or for a line to escape its largest (prefix + ESCAPE_EXPANSION bytes a byte + LF).
 */
export const STOP_FULL = 2;

// the kernel's own answers (line-kernel.wat)
const K_NOLF = 0;
const K_SLOW = 1;
const K_FULL = 2;

/** The least a call copies into the kernel (a few typical lines). */
const MIN_COPY = 2048;

/** The largest seq the encoder takes (records past it could not be numbered exactly). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

// Node has WebAssembly at run time, but its types are in TypeScript's DOM library, which src/
// alone does not load (tsconfig.lib.json, npm pack): the little used here, declared here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmGlobal {
  readonly value: number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
declare const WebAssembly:
  | {
      Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
      Instance: new (module: object, imports: object) => WasmInstance;
      Memory: abstract new (...args: never[]) => WasmMemory;
    }
  | undefined;

interface KernelExports {
  memory: WasmMemory;
  encode: (inAt: number, inEnd: number, outAt: number, outEnd: number, seq: number, limit: number) => number;
  PREFIX_AT: WasmGlobal;
  RESULT_AT: WasmGlobal;
  IN_AT: WasmGlobal;
  IN_SIZE: WasmGlobal;
  OUT_AT: WasmGlobal;
  OUT_SIZE: WasmGlobal;
}

/** Throws unless [start, end) is a range of whole indexes within 0..length. */
function checkRange(what: string, start: number, end: number, length: number): void {
  if (
    !(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= length)
  )
    throw new RangeError(`LineEncoder: ${what} range [${start}, ${end}) outside 0..${length}`);
}

export class LineEncoder {
  /** Source position reached: the start of the first line not written (or of the rest). */
  srcPos = 0;
  /** Destination position reached: the end of the last record written. */
  dstPos = 0;
  /** Records written by the last call (numbered seq, seq + 1, ...). */
  records = 0;
  /** Of those, the lines written with escapeInto (not plain). */
  escaped = 0;
  /** Why the last call stopped: STOP_DONE, STOP_SLOW or STOP_FULL. */
  stop = STOP_DONE;
  /** With STOP_SLOW, the index in the source of the LF that ends the line at srcPos; else -1. */
  slowEnd = -1;
  /** Bytes copied into the kernel since this encoder was made (for tests and benchmarks). */
  bytesIn = 0;

  /**
   * Bytes of source the next call copies into the kernel at first. A call that stops at a SLOW
   * or FULL line is followed by another from that line: copying a whole window each time would
   * make a run of short lines over the limit, or a destination with little room, cost a
   * window's copy per line. So the copy follows the use: about twice what the last call used,
   * at least MIN_COPY, doubled while whole windows are used.
   */
  private copySize: number;

  private readonly kernel: KernelExports["encode"];
  /** The kernel's whole memory, as a Buffer (it never grows, so this view stays valid). */
  private readonly mem: Buffer;
  private readonly result: Int32Array;
  private readonly prefixAt: number;
  private readonly inAt: number;
  private readonly inSize: number;
  private readonly outAt: number;
  private readonly outSize: number;

  constructor(instance: WasmInstance) {
    const x = instance.exports as unknown as KernelExports;
    this.kernel = x.encode;
    this.mem = Buffer.from(x.memory.buffer);
    this.prefixAt = x.PREFIX_AT.value;
    this.inAt = x.IN_AT.value;
    this.inSize = x.IN_SIZE.value;
    this.outAt = x.OUT_AT.value;
    this.outSize = x.OUT_SIZE.value;
    this.result = new Int32Array(x.memory.buffer, x.RESULT_AT.value, 5);
    this.copySize = this.inSize;
  }

  /** Bytes of source the kernel sees at once; a line this long or longer is always SLOW. */
  get windowSize(): number {
    return this.inSize;
  }

  /**
   * Writes the data records of the complete lines of `src[start, end)` into
   * `dst[dstStart, dstEnd)`, stamped with `time` (27 bytes) and numbered from `seq`, each
   * payload at most `limit` bytes, until the first line it cannot write. Returns `stop` and
   * sets the fields: the caller writes the line at `srcPos` itself when SLOW, makes room when
   * FULL, and keeps `src[srcPos, end)` for the next chunk when DONE.
   */
  encode(
    src: Buffer,
    start: number,
    end: number,
    dst: Buffer,
    dstStart: number,
    dstEnd: number,
    time: Uint8Array,
    seq: number,
    limit: number,
  ): number {
    checkRange("source", start, end, src.length);
    checkRange("destination", dstStart, dstEnd, dst.length);
    if (time.length !== TIME_LEN) throw new RangeError(`LineEncoder: time must be ${TIME_LEN} bytes`);
    if (!(Number.isSafeInteger(seq) && seq >= 0 && seq <= MAX_SEQ - (end - start)))
      throw new RangeError(`LineEncoder: seq ${seq} out of range`);
    if (!(Number.isSafeInteger(limit) && limit >= 0)) throw new RangeError(`LineEncoder: bad limit ${limit}`);
    // the kernel compares lengths unsigned in 32 bits; a line never exceeds its window anyway
    const lim = Math.min(limit, 0x7fffffff);

    this.mem.set(time, this.prefixAt);
    const mem = this.mem;
    const inAt = this.inAt;
    const outAt = this.outAt;
    const res = this.result;
    let pos = start; // source index of the window's first byte (inAt)
    let out = dstStart;
    let records = 0;
    let escaped = 0;
    let stop = STOP_DONE;
    let slowEnd = -1;
    let size = this.copySize;
    for (;;) {
      const n = Math.min(end - pos, size);
      if (n === 0) break; // DONE
      src.copy(mem, inAt, pos, pos + n);
      this.bytesIn += n;
      const winEnd = inAt + n;
      let at = inAt; // where the kernel goes on in the window
      let k = K_NOLF;
      for (;;) {
        const dstRoom = dstEnd - out;
        const room = Math.min(dstRoom, this.outSize);
        k = this.kernel(at, winEnd, outAt, outAt + room, seq + records, lim);
        const reached = res[0]!;
        const wrote = res[1]! - outAt;
        const count = res[2]!;
        if (reached < at || reached > winEnd || wrote < 0 || wrote > room)
          throw new Error("line kernel: result out of bounds");
        if (wrote > 0) mem.copy(dst, out, outAt, outAt + wrote);
        at = reached;
        out += wrote;
        records += count;
        if (k === K_SLOW) {
          const lf = res[3]!;
          const len = lf - at;
          const plen = res[4]!;
          if (len > lim) break; // over the limit: the caller's
          // Not plain: escaped here from the window, with the prefix the kernel left for this
          // record, exactly as writeDataRecord does; the kernel then goes on after it.
          if (plen + ESCAPE_EXPANSION * len + 1 > dstEnd - out) {
            k = K_FULL;
            break;
          }
          mem.copy(dst, out, this.prefixAt, this.prefixAt + plen);
          out = escapeInto(mem, at, lf, dst, out + plen);
          dst[out++] = LF;
          records++;
          escaped++;
          at = lf + 1;
          continue;
        }
        // Full because of the caller's room, or only of the kernel's output area (copied out
        // now, so go on). An empty area always holds a window's plain line: count === 0 there
        // cannot happen, and is not looped on.
        if (k === K_FULL && room < dstRoom && count > 0) continue;
        if (k !== K_FULL && k !== K_NOLF) throw new Error(`line kernel: unknown answer ${k}`);
        break;
      }
      const used = at - inAt;
      const windowStart = pos;
      pos += used;
      if (k === K_SLOW) {
        stop = STOP_SLOW;
        slowEnd = windowStart + (res[3]! - inAt);
        // the caller calls again after this line: copy about as much as was used this time
        size = 2 * (slowEnd + 1 - windowStart);
        break;
      }
      if (k === K_FULL) {
        stop = STOP_FULL;
        size = 2 * used;
        break;
      }
      if (windowStart + n === end) break; // DONE: the window held the rest of the source
      if (n < this.inSize) {
        // a small window (after a SLOW or FULL) ended mid-line: grow it (and copy that line
        // again, at most twice its final size in all)
        size = Math.min(this.inSize, 2 * n);
        continue;
      }
      if (used > 0) continue; // the next window starts at the incomplete line
      // A line at least as long as the window: the caller writes it if it is complete.
      const lf = src.subarray(windowStart + n, end).indexOf(LF);
      if (lf !== -1) {
        stop = STOP_SLOW;
        slowEnd = windowStart + n + lf;
      }
      break;
    }
    this.copySize = Math.min(this.inSize, Math.max(MIN_COPY, size));
    this.escaped = escaped;
    this.srcPos = pos;
    this.dstPos = out;
    this.records = records;
    this.stop = stop;
    this.slowEnd = slowEnd;
    return stop;
  }
}

/**
 * The process's encoder, or null where WebAssembly or its SIMD is missing (then the caller
 * keeps to the JavaScript path). `wasm` is for tests: other bytes than the kernel's.
 */
export function createLineEncoder(wasm?: Uint8Array<ArrayBuffer>): LineEncoder | null {
  if (typeof WebAssembly !== "object" || WebAssembly === null) return null;
  const wasmApi = WebAssembly;
  try {
    const bytes = wasm ?? Buffer.from(LINE_KERNEL_WASM_BASE64, "base64");
    const instance = new wasmApi.Instance(new wasmApi.Module(bytes), {});
    const x = instance.exports as Partial<KernelExports>;
    if (typeof x.encode !== "function" || !(x.memory instanceof wasmApi.Memory)) return null;
    return new LineEncoder(instance);
  } catch {
    return null; // a CompileError where the engine has no SIMD128
  }
}
