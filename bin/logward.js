#!/usr/bin/env node
// The `logward` command. Plain JavaScript so that an old Node can still say what is wrong.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `logward: this is Node.js ${process.versions.node}, but logward needs Node.js 24 or newer; run it with 'npx logward' from the project (npm ci installs Node 24) or install Node 24.\n`,
  );
  process.exit(2);
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
