// Where the store is: --store, else $LOGWARD_STORE, else /var/lib/logward for root, else the
// per-user data directory ($XDG_DATA_HOME/logward, ~/.local/share/logward).

import { homedir } from "node:os";
import { join, resolve } from "node:path";

export function defaultStore(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOGWARD_STORE) return resolve(env.LOGWARD_STORE);
  if (process.getuid?.() === 0) return "/var/lib/logward";
  const data = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(data, "logward");
}

export function storePath(option: string | undefined): string {
  return option ? resolve(option) : defaultStore();
}
