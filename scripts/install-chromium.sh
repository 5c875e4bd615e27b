#!/usr/bin/env bash
# The browser tests (test/ui-browser.test.ts) drive Debian's chromium with playwright-core; no
# browser is ever downloaded from elsewhere. Installs it when missing (needs root and apt).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "The browser tests need /usr/bin/chromium: install Debian's chromium package (apt-get install chromium)." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >/dev/null ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; }
