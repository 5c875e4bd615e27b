#!/usr/bin/env bash
# The syslog listener tests (test/syslog-*.test.ts, test/relp-*.test.ts) talk to real peers:
# util-linux logger, openssl s_client, rsyslogd (omfwd over TLS with the gtls and ossl drivers,
# omrelp) and syslog-ng (the RFC 5425 syslog() destination). rsyslog and its modules come from
# apt. Debian's syslog-ng-core conflicts with rsyslog (both provide system-log-daemon), so its
# .deb is unpacked with dpkg -x into a private root instead, as ../shared/peerbench/setup.sh
# does, with the libraries it needs that the system lacks:
#
#   /var/cache/logward-test/syslog-ng/usr/sbin/syslog-ng
#   run with LD_LIBRARY_PATH=<root>/usr/lib/syslog-ng:<root>/usr/lib/<multiarch>
#   and --module-path=<root>/usr/lib/syslog-ng/<version>
#
# Idempotent: exits 0 at once when everything is there. Needs root and apt. The apt install
# keeps the distribution's rsyslog service from starting (policy-rc.d) where none is set.
# LOGWARD_SYSLOG_NG_ROOT moves the syslog-ng root (the tests read the same variable).
set -euo pipefail
ROOT=${LOGWARD_SYSLOG_NG_ROOT:-/var/cache/logward-test/syslog-ng}
PACKAGES=(rsyslog rsyslog-gnutls rsyslog-openssl rsyslog-relp openssl util-linux)
have_packages() {
  for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || return 1
  done
}
if have_packages && [ -x "$ROOT/usr/sbin/syslog-ng" ] && [ -e "$ROOT/.complete" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
  echo "The syslog tests need ${PACKAGES[*]} and syslog-ng in $ROOT: run scripts/install-syslog-peers.sh as root on Debian (it needs apt-get and dpkg)." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! have_packages; then
  tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    tmp_policy=1
  fi
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null; }
  [ "$tmp_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
if [ -x "$ROOT/usr/sbin/syslog-ng" ] && [ -e "$ROOT/.complete" ]; then exit 0; fi
candidate() { apt-cache policy "$1" | awk '/Candidate:/ { print $2 }'; }
version=$(candidate syslog-ng-core)
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  apt-get update -q >/dev/null
  version=$(candidate syslog-ng-core)
fi
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  echo "apt knows no syslog-ng-core package: add Debian's main archive to the apt sources." >&2
  exit 1
fi
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
packages=("syslog-ng-core=$version")
# its shared libraries that a system with rsyslog usually lacks
for lib in libivykis0 libnet1; do dpkg -s "$lib" >/dev/null 2>&1 || packages+=("$lib"); done
(cd "$debs" && { apt-get download -q "${packages[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null && apt-get download -q "${packages[@]}" >/dev/null; }; })
rm -rf "$ROOT"
mkdir -p "$ROOT"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$ROOT"; done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
export LD_LIBRARY_PATH="$ROOT/usr/lib/syslog-ng:$ROOT/usr/lib/$multiarch"
if ! "$ROOT/usr/sbin/syslog-ng" --version >/dev/null; then
  echo "syslog-ng $version unpacked into $ROOT does not run (a missing library? see ldd $ROOT/usr/sbin/syslog-ng)." >&2
  exit 1
fi
echo "$version" >"$ROOT/.complete"
echo "syslog-ng $version unpacked into $ROOT"
