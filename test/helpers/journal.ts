// Real systemd journals for the journald sender tests: export text with several boots, turned
// into journal files by Debian's systemd-journal-remote (unpacked by
// scripts/install-journal-remote.sh, never apt-installed: that would upgrade the system's
// systemd) and read back by the system's own /usr/bin/journalctl.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = process.env.LOGWARD_JOURNAL_REMOTE_ROOT ?? "/var/cache/logward-test/journal-remote";
const REMOTE = join(ROOT, "lib/systemd/systemd-journal-remote");
export const JOURNALCTL = "/usr/bin/journalctl";

/** Fails (never skips) when the real tools are not there, saying how to get them. */
export function requireJournalTools(): void {
  if (!existsSync(JOURNALCTL)) {
    throw new Error(
      `${JOURNALCTL} is missing: these tests run the real journalctl (Debian's systemd package).`,
    );
  }
  if (!existsSync(REMOTE)) {
    throw new Error(
      `systemd-journal-remote is not in ${ROOT}: run scripts/install-journal-remote.sh as root (it unpacks Debian's package there).`,
    );
  }
}

function libraryPath(): string {
  const lib = join(ROOT, "usr/lib");
  const arch = readdirSync(lib).find((d) => existsSync(join(lib, d, "systemd")));
  if (!arch)
    throw new Error(`no libsystemd-shared under ${lib}: run scripts/install-journal-remote.sh again`);
  return `${join(lib, arch, "systemd")}:${join(lib, arch)}`;
}

/** This machine's boot id, as journald writes _BOOT_ID: what `journalctl -b` (implied by -f) selects. */
export const CURRENT_BOOT = readFileSync("/proc/sys/kernel/random/boot_id", "latin1")
  .trim()
  .replaceAll("-", "");

export interface Boot {
  id: string;
  entries: number;
}

/**
 * A journal's worth of export text: entries numbered from `first`, boot after boot, with
 * increasing __REALTIME_TIMESTAMP and, within a boot, __MONOTONIC_TIMESTAMP. Every 7th entry's
 * MESSAGE is binary (a newline and a terminal escape in it), as journald stores such messages.
 * `pad` bytes of filler make entries larger.
 */
export function exportText(boots: Boot[], first: number, pad = 0): Buffer {
  const parts: Buffer[] = [];
  let n = first;
  for (const boot of boots) {
    let mono = 2_000_000;
    for (let k = 0; k < boot.entries; k++, n++) {
      mono += 1_500 + (n % 13);
      const rt = 1_764_000_000_000_000 + n * 1_000;
      parts.push(
        Buffer.from(
          `__REALTIME_TIMESTAMP=${rt}\n__MONOTONIC_TIMESTAMP=${mono}\n_BOOT_ID=${boot.id}\n` +
            `_MACHINE_ID=0f3e4d2c1b0a49988776655443322110\n_HOSTNAME=work\n_TRANSPORT=syslog\n` +
            `PRIORITY=${n % 8}\nSYSLOG_FACILITY=3\nSYSLOG_IDENTIFIER=app\n_PID=${1000 + (n % 50)}\n` +
            (pad ? `FILLER=${"x".repeat(pad)}\n` : ""),
        ),
      );
      if (n % 7 === 0) {
        const msg = Buffer.from(`entry ${n}\nsecond line \x1b[2J\x1b]0;owned\x07`, "latin1");
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(msg.length));
        parts.push(Buffer.from("MESSAGE\n"), len, msg, Buffer.from("\n\n"));
      } else {
        parts.push(Buffer.from(`MESSAGE=entry ${n}\n\n`));
      }
    }
  }
  return Buffer.concat(parts);
}

/**
 * Appends entries to `dir/system.journal` (creating it), as journald appends to its file across
 * boots: the file's seqnum id stays, so cursors from earlier runs stay valid in it.
 */
export function writeJournal(dir: string, text: Buffer): void {
  const r = spawnSync(REMOTE, [`--output=${join(dir, "system.journal")}`, "-"], {
    input: text,
    env: { ...process.env, LD_LIBRARY_PATH: libraryPath() },
    encoding: "latin1",
  });
  if (r.status !== 0) throw new Error(`systemd-journal-remote failed (${r.status}): ${r.stderr}`);
}

/** Every entry of the journal in `dir`, as the real journalctl exports it, all boots. */
export function exportAll(dir: string): Buffer {
  return execFileSync(JOURNALCTL, [`--directory=${dir}`, "--merge", "-o", "export"], {
    maxBuffer: 1 << 30,
  });
}

/** The MESSAGE numbers of journal records ("entry N"), in stored order. */
export function messageNumbers(payloads: Buffer[]): number[] {
  return payloads.map((p) => {
    const m = /\nMESSAGE(?:=|\n[\s\S]{8})entry (\d+)\n/.exec(`\n${p.toString("latin1")}`);
    if (!m) throw new Error(`no MESSAGE in a stored entry: ${p.toString("latin1").slice(0, 200)}`);
    return Number(m[1]);
  });
}
