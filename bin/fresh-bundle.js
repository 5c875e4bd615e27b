// @ts-check
// Which start-up bundle (scripts/build.ts) may run a command: the one in dist/manifest.json,
// only while the bundle and every source file in it have the mtime and size the build recorded.
// Anything else (no build, an edited source, a damaged manifest) answers null, and the command
// runs from the sources. Plain JavaScript and node:fs alone: this runs before anything else.

/**
 * @param {string} root the project directory
 * @param {string | undefined} command
 * @param {string} [dist] where the build wrote (default root/dist)
 * @returns {string | null} the bundle's path, or null to run from source
 */
export function freshBundle(root, command, dist) {
  if (command === undefined) return null;
  const { readFileSync, statSync } = process.getBuiltinModule("node:fs");
  const { join } = process.getBuiltinModule("node:path");
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dist ?? join(root, "dist"), "manifest.json"), "utf8"));
  } catch {
    return null;
  }
  if (manifest?.format !== 1 || typeof manifest.bundles !== "object" || manifest.bundles === null)
    return null;
  if (!Object.hasOwn(manifest.bundles, command)) return null;
  const bundle = manifest.bundles[command];
  const checks = [[bundle?.file, bundle?.stamp], ...Object.entries(bundle?.inputs ?? {})];
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
  return join(root, bundle.file);
}
