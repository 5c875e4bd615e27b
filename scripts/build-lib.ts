// npm pack (prepack): lib/, the JavaScript that an installed logward runs. Node strips
// TypeScript types only outside node_modules (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), and
// `npm install --global` puts logward in node_modules, so the package carries src/ compiled by
// tsc (tsconfig.lib.json: the same layout, relative imports rewritten from .ts to .js) and the
// files beside it that the code finds through import.meta (the web UI's static files, the
// syslog helper). bin/logward.js runs lib/ only where there is no src/ (an installed package);
// a checkout always runs src/. postpack (--clean) removes lib/ again.
//
//   node scripts/build-lib.ts [--clean]

import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const LIB = join(ROOT, "lib");

rmSync(LIB, { recursive: true, force: true });
if (!process.argv.includes("--clean")) {
  const tsc = join(ROOT, "node_modules/.bin/tsc");
  try {
    execFileSync(tsc, ["-p", join(ROOT, "tsconfig.lib.json")], { stdio: "inherit" });
  } catch {
    rmSync(LIB, { recursive: true, force: true });
    console.error("logward: tsc could not compile src/ into lib/ (see above), so there is nothing to pack.");
    process.exit(1);
  }
  const copied: string[] = [];
  const copy = (dir: string) => {
    for (const e of readdirSync(join(ROOT, "src", dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) copy(rel);
      else if (!e.name.endsWith(".ts") && e.name !== "README.md") {
        cpSync(join(ROOT, "src", rel), join(LIB, rel));
        copied.push(rel);
      }
    }
  };
  copy("");
  console.log(`logward: compiled src/ into lib/ (and copied ${copied.join(", ")})`);
}
