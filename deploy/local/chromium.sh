#!/usr/bin/env bash
# Headless Chromium for the tracker's browser tests (Debian's `chromium` package, driven by
# playwright-core with executablePath /usr/bin/chromium). Idempotent: installs only when missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -x /usr/bin/chromium ]; then
  log "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
  exit 0
fi
apt_install chromium
[ -x /usr/bin/chromium ] || die "chromium was installed but /usr/bin/chromium is missing"
log "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
