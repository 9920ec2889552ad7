#!/usr/bin/env bash
# `npm run cli -- <group> …`: each group belongs to the room whose data it manages, and each room
# has its own CLI entry (no file imports across services): keys and sites → api/cli/main.ts,
# dlq → processor/cli/main.ts. Without a known group, both entries print their usage.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run() { exec node --import tsx "$@"; }
case "${1:-}" in
  keys | sites) run api/cli/main.ts "$@" ;;
  dlq) run processor/cli/main.ts "$@" ;;
  *)
    node --import tsx api/cli/main.ts help
    node --import tsx processor/cli/main.ts help | tail -n +3
    [ -z "${1:-}" ] || [ "$1" = help ] || [ "$1" = --help ] || exit 64
    ;;
esac
