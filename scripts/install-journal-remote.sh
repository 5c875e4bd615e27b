#!/usr/bin/env bash
# The journald sender tests (test/journal-sender.test.ts) run the system's real journalctl on
# journal files that Debian's systemd-journal-remote builds from export text. Installing that
# package with apt would upgrade the system's systemd to its version, so its .deb and the
# libsystemd-shared of exactly its version (and libmicrohttpd12 when the system lacks it) are
# unpacked with dpkg -x into a private root instead, as ../shared/peerbench/setup.sh does:
#
#   /var/cache/logward-test/journal-remote/lib/systemd/systemd-journal-remote
#   run with LD_LIBRARY_PATH=<root>/usr/lib/<multiarch>/systemd:<root>/usr/lib/<multiarch>
#
# Idempotent: exits 0 at once when the root is complete. Needs root and apt (apt-get download).
# LOGWARD_JOURNAL_REMOTE_ROOT moves the root (the tests read the same variable).
set -euo pipefail
ROOT=${LOGWARD_JOURNAL_REMOTE_ROOT:-/var/cache/logward-test/journal-remote}
BIN=$ROOT/lib/systemd/systemd-journal-remote
if [ -x "$BIN" ] && [ -e "$ROOT/.complete" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "The journal sender tests need systemd-journal-remote in $ROOT: run scripts/install-journal-remote.sh as root on Debian (it needs apt-get and dpkg)." >&2
  exit 1
fi
candidate() { apt-cache policy "$1" | awk '/Candidate:/ { print $2 }'; }
version=$(candidate systemd-journal-remote)
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  apt-get update -q >/dev/null
  version=$(candidate systemd-journal-remote)
fi
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  echo "apt knows no systemd-journal-remote package: add Debian's main archive to the apt sources." >&2
  exit 1
fi
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
packages=("systemd-journal-remote=$version" "libsystemd-shared=$version")
dpkg -s libmicrohttpd12 >/dev/null 2>&1 || packages+=(libmicrohttpd12)
(cd "$debs" && { apt-get download -q "${packages[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null && apt-get download -q "${packages[@]}" >/dev/null; }; })
rm -rf "$ROOT"
mkdir -p "$ROOT"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$ROOT"; done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
export LD_LIBRARY_PATH="$ROOT/usr/lib/$multiarch/systemd:$ROOT/usr/lib/$multiarch"
if ! "$BIN" --help >/dev/null; then
  echo "systemd-journal-remote $version unpacked into $ROOT does not run (a missing library? see ldd $BIN)." >&2
  exit 1
fi
echo "$version" >"$ROOT/.complete"
echo "systemd-journal-remote $version unpacked into $ROOT"
