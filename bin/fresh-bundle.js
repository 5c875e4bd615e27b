// @ts-check
// Which start-up bundle (scripts/build.ts) may run a command: the one its manifest,
// dist/<command>.manifest.json, names, only while the bundle and every source file in it have
// the mtime and size the build recorded. Anything else (no build, an edited source, a damaged
// manifest) answers null, and the command runs from the sources. Plain JavaScript and node:fs
// alone: this runs before anything else. One small manifest per command: parsing one manifest
// of every command's inputs (26 KB) cost 0.6-0.7 ms of each start, and qrexec starts an ingest
// per call.

/**
 * @param {string} root the project directory
 * @param {string | undefined} command
 * @param {string} [dist] where the build wrote (default root/dist)
 * @returns {string | null} the bundle's path, or null to run from source
 */
export function freshBundle(root, command, dist) {
  // a command's name, never a path (nor __proto__): anything else has no bundle
  if (command === undefined || !/^[a-z][a-z-]{0,31}$/.test(command)) return null;
  const { readFileSync, statSync } = process.getBuiltinModule("node:fs");
  const { join } = process.getBuiltinModule("node:path");
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dist ?? join(root, "dist"), `${command}.manifest.json`), "utf8"));
  } catch {
    return null;
  }
  if (
    manifest?.format !== 3 ||
    typeof manifest.file !== "string" ||
    typeof manifest.inputs !== "object" ||
    manifest.inputs === null
  )
    return null;
  const checks = [[manifest.file, manifest.stamp], ...Object.entries(manifest.inputs)];
  for (const [rel, want] of checks) {
    if (typeof rel !== "string" || !Array.isArray(want)) return null;
    let st;
    try {
      st = statSync(join(root, rel));
    } catch {
      return null;
    }
    if (st.mtimeMs !== want[0] || st.size !== want[1]) return null;
  }
  return join(root, manifest.file);
}
