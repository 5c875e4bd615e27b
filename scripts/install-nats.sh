#!/usr/bin/env bash
# The nats output tests (test/output-nats*.test.ts) and `npm run bench:nats` run a real
# `nats-server -js` on a private loopback port with a temp store dir. It comes from Debian's
# nats-server package. The apt install keeps the distribution's service from starting
# (policy-rc.d) where none is set: the tests start their own server, never the system's.
#
# Idempotent: exits 0 at once when nats-server is installed. Needs root and apt.
set -euo pipefail
PACKAGES=(nats-server)
have_packages() {
  for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || return 1
  done
}
if have_packages && command -v nats-server >/dev/null; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "The nats output tests need ${PACKAGES[*]}: run scripts/install-nats.sh as root on Debian (it needs apt-get)." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
tmp_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  tmp_policy=1
fi
trap '[ "$tmp_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d || true' EXIT
apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >/dev/null; }
if ! nats-server --version >/dev/null; then
  echo "nats-server was installed but does not run: see nats-server --version." >&2
  exit 1
fi
echo "$(nats-server --version) installed"
