// @ts-check
// Running a start-up bundle (scripts/build.ts) with a complete V8 code cache.
//
// A bundle is the body of a CommonJS module. It is compiled here with vm.Script, and once the
// command is done the script's code cache is written beside Node's compile cache: made after
// the run, it holds every function the command compiled, where Node's compile cache holds only
// what V8 compiles before a module runs (its top level), so each later start compiled the
// rest again. One-minute show: 51.8 -> 49.5 ms median (61 runs interleaved against the ES
// module bundle; Node with an empty module: 30.3 ms).
//
// The cache is code, so it is kept only in a directory of our own: owned by this user, written
// by nobody else (else it is not used). Its name carries the bundle's, which carries a hash of
// the bundle's text, so a rebuilt bundle never meets an old cache; V8 itself rejects a cache
// of another V8 or other flags, and the next run writes a fresh one. V8 does not check the
// rest of a cache (its checksum is verified only in debug builds): a damaged one ran as
// garbage, a `show` that printed nothing. So the file holds the cache twice, and a cache is
// used only when both copies are equal (Buffer.equals, a memcmp: microseconds). A checksum
// would cost more than the cache saves: 1.6-3.7 ms in JavaScript at start-up, and loading
// node:crypto (6 ms) or node:zlib (2.6 ms) for one.

const {
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} = process.getBuiltinModule("node:fs");
const { basename, dirname, join } = process.getBuiltinModule("node:path");

/**
 * Runs `main(args)` of the bundle `file`; returns its exit code.
 * @param {string} file the bundle (dist/<command>.<hash>.js)
 * @param {string[]} args the command's arguments
 * @param {string | null} cacheDir where code caches are kept (null: none)
 * @returns {Promise<number>}
 */
export async function runBundle(file, args, cacheDir) {
  const { pathToFileURL } = process.getBuiltinModule("node:url");
  const dir = cacheDir !== null && privateDir(cacheDir) ? cacheDir : null;
  const cacheFile = dir === null ? null : join(dir, `${basename(file)}.v8cache`);
  const { script, stale } = compile(file, cacheFile);
  /** @type {{ exports: { main?: (args: string[]) => Promise<number> } }} */
  const module = { exports: {} };
  script.runInThisContext()(module, pathToFileURL(file).href, dirname(file));
  const code = await /** @type {(args: string[]) => Promise<number>} */ (module.exports.main)(args);
  if (cacheFile !== null && stale) saveCache(cacheFile, script.createCachedData());
  return code;
}

/**
 * The bundle compiled, with its cache when there is a good one; `stale` when there was none
 * or V8 refused it. The cache's bytes are not kept: serve runs for months.
 * @param {string} file
 * @param {string | null} cacheFile
 */
function compile(file, cacheFile) {
  const { Script } = process.getBuiltinModule("node:vm");
  const source = readFileSync(file, "utf8");
  const cachedData = cacheFile === null ? undefined : readCache(cacheFile);
  // on the bundle's first line, so that stack traces keep its line numbers
  const script = new Script(`(function (module, __lw_bundle_url, __lw_bundle_dir) {${source}\n})`, {
    filename: file,
    cachedData,
  });
  return { script, stale: cachedData === undefined || script.cachedDataRejected === true };
}

const MAGIC = Buffer.from("LWCODE1\n", "latin1");
/** Another bundle's cache older than this is removed when a new one is written. */
const STALE_MS = 24 * 3600 * 1000;

/**
 * The cache in `file` (MAGIC, its length as u32le, the cache, the cache again), or undefined
 * when there is none or its copies differ.
 * @param {string} file
 * @returns {Buffer | undefined}
 */
function readCache(file) {
  let bytes;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined; // none yet: this run makes it
  }
  const head = MAGIC.length + 4;
  if (bytes.length < head || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const n = bytes.readUInt32LE(MAGIC.length);
  if (bytes.length !== head + 2 * n) return undefined;
  const cache = bytes.subarray(head, head + n);
  return cache.equals(bytes.subarray(head + n)) ? cache : undefined;
}

/**
 * True for a directory of this user's that no one else may write (made so if missing).
 * @param {string} dir
 */
function privateDir(dir) {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.() ?? -1;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Writes the cache whole (a reader sees none or all of it) and removes the bundle's older ones.
 * @param {string} file
 * @param {Buffer} data
 */
function saveCache(file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, "wx", 0o600);
    try {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(data.length);
      for (const part of [MAGIC, length, data, data]) writeSync(fd, part);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    // caches of this command's earlier bundles (dist/<command>.<hash>.js) not made in the last
    // day: a rebuilt checkout's old ones go, while two installs used in turn keep theirs
    // (removing every other one made each recompile and rewrite at every start)
    const command = basename(file).split(".")[0];
    const old = Date.now() - STALE_MS;
    for (const name of readdirSync(dirname(file))) {
      if (!name.startsWith(`${command}.`) || !name.endsWith(".v8cache") || name === basename(file)) continue;
      const path = join(dirname(file), name);
      if (lstatSync(path).mtimeMs < old) unlinkSync(path);
    }
  } catch {
    // no cache (a read-only home, the permission model): the next start compiles as this one did
    try {
      unlinkSync(tmp);
    } catch {}
  }
}
