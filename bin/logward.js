#!/usr/bin/env node
// The `logward` command. Plain JavaScript so that an old Node can still say what is wrong.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `logward: this is Node.js ${process.versions.node}, but logward needs Node.js 24 or newer; run it as 'logward' or 'npx logward' (npm installs Node 24 with logward) or install Node 24.\n`,
  );
  process.exit(2);
}
// Node strips TypeScript types with a WebAssembly compiler that costs about 0.1 s of CPU and
// 40 MB at every start, and qrexec starts `logward ingest` once per call. The compile cache keeps
// the stripped, compiled modules in a private directory (never a shared one: it holds code), so
// a start costs about 0.04 s. Without a usable directory Node just compiles as before.
// Built-ins through getBuiltinModule: an import() of each builds its ES module facade (these
// three: 1.2-1.8 ms of a start, against 0.3-0.5 ms).
const { enableCompileCache } = process.getBuiltinModule("node:module");
const { homedir } = process.getBuiltinModule("node:os");
const { join } = process.getBuiltinModule("node:path");
// an empty variable counts as unset, as in the shell wrapper (bin/logward): never a cache in
// the working directory
const cacheRoot = join(
  process.env.CACHE_DIRECTORY || process.env.XDG_CACHE_HOME || join(homedir(), ".cache"),
  "logward",
);
if (!process.env.NODE_COMPILE_CACHE && enableCompileCache) {
  try {
    enableCompileCache(join(cacheRoot, "node-compile-cache"));
  } catch {
    // no cache: slower starts, same behaviour
  }
}
// The collector: every socket read is a fresh 64 KiB buffer outside the JS heap, freed only when
// the young generation is collected; with V8's default 16 MiB semi-spaces tens of MiB of spent
// read buffers pile up under load. Small semi-spaces collect them sooner at no measurable cost
// (npm run bench: peak RSS 143 -> 103 MiB, same CPU per line). The same holds for `ship`, the
// long-running sender (100k records: peak RSS 126 -> 104 MiB). The flag only works at start, so
// the process replaces itself once (same PID, so systemd and signals are unaffected).
// With LOGWARD_NODE_PERMISSION=1, serve's restart also turns on Node's permission model
// (bin/node-permission.js): writes only into the store.
const SEMI_SPACE = "--max-semi-space-size=1";
const LONG_RUNNING = ["serve", "ship"];
if (LONG_RUNNING.includes(process.argv[2]) && !process.execArgv.includes(SEMI_SPACE) && process.execve) {
  const { permissionFlags } = await import("./node-permission.js");
  const permission =
    process.argv[2] === "serve" && !process.permission
      ? permissionFlags(process.argv.slice(3), process.env)
      : [];
  process.execve(process.execPath, [
    process.execPath,
    SEMI_SPACE,
    ...permission,
    ...process.execArgv,
    ...process.argv.slice(1),
  ]);
}
// A command runs from its start-up bundle (scripts/build.ts, built by `npm ci`) while that is
// fresh, else from the sources; LOGWARD_FROM_SOURCE=1 always runs the sources.
const { freshBundle } = await import("./fresh-bundle.js");
const bundle = process.env.LOGWARD_FROM_SOURCE
  ? null
  : freshBundle(join(import.meta.dirname, ".."), process.argv[2]);
if (bundle) {
  // with a code cache of everything the command compiled (bin/run-bundle.js)
  const { runBundle } = await import("./run-bundle.js");
  process.exitCode = await runBundle(bundle, process.argv.slice(3), join(cacheRoot, "code-cache"));
} else if (process.getBuiltinModule("node:fs").existsSync(join(import.meta.dirname, "../src"))) {
  const { main } = await import("../src/cli/main.ts");
  process.exitCode = await main(process.argv.slice(2));
} else {
  // an installed package (npm pack, then npm install): src/ compiled to JavaScript
  // (scripts/build-lib.ts), since Node strips no types under node_modules
  const { main } = await import("../lib/cli/main.js");
  process.exitCode = await main(process.argv.slice(2));
}
