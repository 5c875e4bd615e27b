// npm run build (run by `npm ci` through `prepare`, and by `npm test` before the suites): one
// start-up bundle per command in dist/, which bin/logward.js runs instead of the sources while
// they are unchanged.
//
// Why: Node loads each source module separately (resolve, read, the compile cache's two
// entries, link), about 0.5 ms apiece, and `show` needs 18 of them: 11 ms of a 55 ms run. One
// bundled file of the same code loads in about 4 ms. The sources stay what is developed,
// type-checked and unit-tested; a bundle is only a cache of them. dist/<command>.manifest.json
// records the mtime and size of every source file in the bundle and of the bundle itself, and the bin
// falls back to the sources when any of them differs, so an edited checkout never runs stale
// code.
//
// A bundle is the body of a CommonJS module, dist/<command>.<hash of its text>.js, which
// bin/run-bundle.js compiles with vm.Script and a code cache made after a run (Node's compile
// cache keeps only the top level of an ES module). It reaches nothing outside itself: Node's
// modules come through process.getBuiltinModule, and the build fails on a require, an import()
// or an import.meta left in it. Code that finds files relative to its own module (import.meta:
// the web UI's static files, the workers, the syslog helper, the demo's bin) is given, in the
// bundle, its source file's place relative to the bundle (__lw_bundle_url, __lw_bundle_dir,
// passed in by run-bundle.js), so it finds the same files as from source. The long-running serve and
// ship are bundled for their memory: serve idles in 64-65 MiB from its bundle against 75-76 MiB
// from ~150 source modules (Node's loader keeps a record, a compile-cache entry and the source of
// each; measured at 23:40 on 2026-11-26).
//
//   node scripts/build.ts [OUT_DIR]   (default dist/)

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { COMMANDS } from "../src/cli/main.ts";

const ROOT = resolve(import.meta.dirname, "..");

/** dist/<command>.manifest.json: a bundle and the [mtimeMs, size] of it and of every source in it */
export interface BundleManifest {
  format: 3;
  file: string;
  stamp: [number, number];
  inputs: Record<string, [number, number]>;
}

const stamp = (path: string): [number, number] => {
  const st = statSync(path);
  return [st.mtimeMs, st.size];
};

export async function buildBundles(outDir = join(ROOT, "dist")): Promise<{ built: string[] } | null> {
  rmSync(outDir, { recursive: true, force: true });
  // esbuild is a devDependency: an install without it (npm ci --omit=dev) runs from source
  const esbuild = await import("esbuild").catch(() => null);
  if (!esbuild) return null;
  const { build } = esbuild;
  mkdirSync(outDir, { recursive: true });
  const built: string[] = [];
  // search's scan worker (src/query/scan-pool.ts), bundled on its own and put into the bundles
  // that start it as text in place of src/query/scan-worker-code.ts: a bundle has no
  // import.meta to find a file beside it. A worker given code (eval) runs it as a module: it
  // has import statements.
  const INLINE = "inline-scan-worker";
  const inline = (code: string | null) => ({
    name: INLINE,
    setup(b: import("esbuild").PluginBuild) {
      b.onResolve({ filter: /\/scan-worker-code\.ts$/ }, (args) => ({ path: args.path, namespace: INLINE }));
      b.onLoad({ filter: /.*/, namespace: INLINE }, () => ({
        contents: `export const SCAN_WORKER = { url: null, code: ${JSON.stringify(code)} };`,
        loader: "js",
      }));
    },
  });
  const worker = await build({
    entryPoints: [join(ROOT, "src/query/scan-worker.ts")],
    plugins: [inline(null)], // a worker starts no workers
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    write: false,
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
  });
  // Node's built-ins reached through process.getBuiltinModule, not `import ... from "node:fs"`:
  // an ES import of a built-in makes Node build its ES module facade, which reads every export,
  // and node:fs's lazy getters then load fs/promises, readline, the fs streams and watchers,
  // none of which a short command may need (ingest's start: 50.3 -> 48.3 ms of CPU). Each
  // export is one constant read from the module when the bundle starts, marked pure, so that
  // esbuild keeps only those the bundle uses (a CommonJS shim instead costs esbuild's copy of
  // every export, which also loads fs/dir).
  const identifier = (name: string) => {
    if (!/^[A-Za-z_$][\w$]*$/.test(name) || name === "builtin$") return false;
    try {
      new Function(`"use strict"; let ${name};`); // not a reserved word
      return true;
    } catch {
      return false;
    }
  };
  const builtins = {
    name: "builtins",
    setup(b: import("esbuild").PluginBuild) {
      b.onResolve({ filter: /^node:/ }, (args) => ({
        path: args.path,
        namespace: "builtin",
        sideEffects: false, // so that an import nothing uses is still dropped
      }));
      b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
        const names = Object.keys(process.getBuiltinModule(args.path) ?? {}).filter((n) => n !== "default");
        const lines = [
          `const builtin$ = process.getBuiltinModule(${JSON.stringify(args.path)});`,
          "export default builtin$;",
        ];
        names.forEach((n, i) => {
          const read = `/* @__PURE__ */ (() => builtin$[${JSON.stringify(n)}])()`;
          lines.push(
            identifier(n)
              ? `export const ${n} = ${read};`
              : `const e${i} = ${read};\nexport { e${i} as ${JSON.stringify(n)} };`,
          );
        });
        return { contents: lines.join("\n"), loader: "js" };
      });
    },
  };
  // import.meta in a source module means that module's file: rewritten to the source file's
  // place relative to the bundle (dist/ and src/ are both in the checkout), so `serve` from its
  // bundle serves the same static files and starts the same workers as from source
  const META_PROPS = new Set(["url", "dirname", "filename"]);
  const sourceMeta = {
    name: "source-import-meta",
    setup(b: import("esbuild").PluginBuild) {
      b.onLoad({ filter: /\/src\/.*\.ts$/, namespace: "file" }, (args) => {
        const text = readFileSync(args.path, "utf8");
        if (!text.includes("import.meta")) return undefined;
        const rel = relative(outDir, args.path);
        const relDir = relative(outDir, dirname(args.path));
        const contents = text.replace(/\bimport\.meta\.(\w+)/g, (_, prop: string) => {
          if (!META_PROPS.has(prop)) throw new Error(`${args.path}: import.meta.${prop} cannot be bundled`);
          if (prop === "url") return `new URL(${JSON.stringify(rel)}, __lw_bundle_url).href`;
          if (prop === "dirname") return `(__lw_bundle_dir + ${JSON.stringify(`/${relDir}`)})`;
          return `(__lw_bundle_dir + ${JSON.stringify(`/${rel}`)})`;
        });
        return { contents, loader: "ts" };
      });
    },
  };
  const workerCode = worker.outputFiles[0]!.text;
  const workerInputs = Object.keys(worker.metafile.inputs).filter((i) => !i.startsWith(`${INLINE}:`));
  const inlineWorker = inline(workerCode);
  for (const [name, c] of Object.entries(COMMANDS)) {
    const result = await build({
      stdin: {
        contents: [
          `import { ${c.run} as run, ${c.help} as help } from "./src/cli/${c.module}";`,
          `import { runCommand } from "./src/cli/run.ts";`,
          "export const main = (args: string[]) => runCommand({ run, help }, args);",
        ].join("\n"),
        resolveDir: ROOT,
        loader: "ts",
        sourcefile: `${name}.entry.ts`,
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node24",
      write: false,
      metafile: true,
      legalComments: "none",
      logLevel: "warning",
      plugins: [inlineWorker, builtins, sourceMeta],
    });
    const text = result.outputFiles[0]!.text;
    // bin/run-bundle.js gives the body `module` and the bundle's place, nothing else: Node's
    // modules come through process.getBuiltinModule, other modules are inside
    const outside = [
      ...Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => `${i.kind} ${i.path}`)),
      ...result.warnings.filter((w) => w.text.includes("import.meta")).map((w) => w.text),
    ];
    if (outside.length > 0)
      throw new Error(`the ${name} bundle reaches outside itself: ${outside.join("; ")}`);
    // named by its text's hash: run-bundle.js keys its code cache by the name
    const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
    const file = join(outDir, `${name}.${hash}.js`);
    writeFileSync(file, text);
    const inputs: Record<string, [number, number]> = {};
    for (const input of Object.keys(result.metafile.inputs)) {
      if (input.startsWith("<stdin>") || input.endsWith(".entry.ts") || input.startsWith("builtin:"))
        continue;
      // the worker's text stands for its sources: the bundle is stale when any of them changes
      if (input.startsWith(`${INLINE}:`)) {
        for (const w of workerInputs) inputs[w] = stamp(join(ROOT, w));
        continue;
      }
      inputs[input] = stamp(join(ROOT, input));
    }
    const manifest: BundleManifest = { format: 3, file: relative(ROOT, file), stamp: stamp(file), inputs };
    // the manifest after its bundle, whole: a reader sees none, or this one
    const path = join(outDir, `${name}.manifest.json`);
    writeFileSync(`${path}.tmp`, `${JSON.stringify(manifest)}\n`);
    renameSync(`${path}.tmp`, path);
    built.push(name);
  }
  return { built };
}

if (import.meta.main) {
  const t0 = performance.now();
  const result = await buildBundles(process.argv[2] ? resolve(process.argv[2]) : undefined);
  if (!result) {
    console.log("logward: esbuild is not installed, so no start-up bundles: commands run from source.");
    process.exit(0);
  }
  const { built } = result;
  console.log(
    `logward: built start-up bundles for ${built.join(", ")} in ${(performance.now() - t0).toFixed(0)} ms`,
  );
}
