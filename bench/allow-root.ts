// `logward serve` refuses to run as root without --allow-root (issue 21); the benches run as
// root on CI's and the developers' machines, so every bench that starts serve passes this.
export const ALLOW_ROOT: string[] = process.getuid?.() === 0 ? ["--allow-root"] : [];
