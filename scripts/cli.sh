#!/usr/bin/env bash
# `npm run cli -- <group> …`: each group belongs to the room whose data it manages, and each room
# has its own CLI entry (no file imports across services): keys and sites → api/cli/main.ts,
# dlq → processor/cli/main.ts. Without a known group, both entries print their usage. Runs from
# the build (built first; in production run `node dist/api/cli/main.js …` directly).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/build.sh >/dev/null
case "${1:-}" in
  keys | sites) exec node dist/api/cli/main.js "$@" ;;
  dlq) exec node dist/processor/cli/main.js "$@" ;;
  *)
    node dist/api/cli/main.js help
    node dist/processor/cli/main.js help | tail -n +3
    [ -z "${1:-}" ] || [ "$1" = help ] || [ "$1" = --help ] || exit 64
    ;;
esac
