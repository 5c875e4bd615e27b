// @ts-check
// Node's permission model for `logward serve`, when LOGWARD_NODE_PERMISSION=1 asks for it: the
// flags that let the collector write only into its store (and Node's compile cache), read
// anything, start workers (web UI searches, outputs) and child processes (systemd-notify,
// alert_command, viewers, exec outputs). Opt-in, not the default: docs/SECURITY.md, "Least
// privilege", says why (a Node child inherits the limits; child processes can leave them).
// Plain JavaScript: bin/logward.js runs this before anything else, without type stripping.

/**
 * @param {string[]} args the command's arguments (after "serve")
 * @param {NodeJS.ProcessEnv} env
 * @returns {string[]} Node options to start serve with, or none
 */
export function permissionFlags(args, env) {
  if (env.LOGWARD_NODE_PERMISSION !== "1") return [];
  const { homedir } = process.getBuiltinModule("node:os");
  const { join, resolve } = process.getBuiltinModule("node:path");
  // the store exactly as src/cli/store-path.ts finds it: --store, $LOGWARD_STORE, the default
  let store;
  for (const [i, arg] of args.entries()) {
    if (arg === "--store" && args[i + 1] !== undefined) store = args[i + 1];
    else if (arg.startsWith("--store=")) store = arg.slice("--store=".length);
  }
  if (!store && env.LOGWARD_STORE) store = env.LOGWARD_STORE;
  if (!store)
    store =
      process.getuid?.() === 0
        ? "/var/lib/logward"
        : join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "logward");
  // The model lets serve fsync only what it may write, so it could not make a new store's own
  // entry durable in the parent: make the store here, first, as serve would (0750, fsync'd).
  makeStore(resolve(store));
  const cacheRoot = env.CACHE_DIRECTORY ?? env.XDG_CACHE_HOME ?? join(homedir(), ".cache");
  const writable = [resolve(store), join(cacheRoot, "logward")];
  if (env.NODE_COMPILE_CACHE) writable.push(resolve(env.NODE_COMPILE_CACHE));
  return [
    "--permission",
    "--allow-fs-read=*",
    ...writable.map((p) => `--allow-fs-write=${p}`),
    "--allow-worker",
    "--allow-child-process",
    // Node warns at every start that these two can invalidate the model; docs/SECURITY.md says
    // how far it holds, and the journal needs no repeated warning
    "--disable-warning=SecurityWarning",
  ];
}

/** @param {string} store */
function makeStore(store) {
  const { closeSync, existsSync, fsyncSync, mkdirSync, openSync } = process.getBuiltinModule("node:fs");
  const { dirname } = process.getBuiltinModule("node:path");
  if (existsSync(store)) return;
  try {
    mkdirSync(store, { recursive: true, mode: 0o750 });
    const fd = openSync(dirname(store), "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // serve meets the same problem and says it in its own words
  }
}
