#!/usr/bin/env bash
# Debian's `docker-compose` (the Python 1.29 CLI), used only to validate deploy/compose/ with
# `docker-compose config` (test/deploy/): it parses, interpolates and checks the file against
# the Compose schema without any container engine. Idempotent: installs only when missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if command -v docker-compose >/dev/null 2>&1; then
  log "docker-compose present: $(docker-compose version --short 2>/dev/null || echo unknown version)"
  exit 0
fi
apt_install docker-compose
command -v docker-compose >/dev/null 2>&1 || die "docker-compose was installed but is not on PATH"
log "docker-compose installed: $(docker-compose version --short 2>/dev/null || echo unknown version)"
