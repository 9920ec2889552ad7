#!/usr/bin/env bash
# The container's entry point: the first argument chooses the role.
#   ingest | processor | api   the service, run from dist/ with its Node flags
#                              (scripts/services.ts SERVICE_NODE_FLAGS, via dist/scripts/service-args.js)
#   migrate                    apply pending migrations and exit (run once before the services)
#   cli <group> …              an operator command (keys, sites: the API's; dlq: the processor's)
# `--dry-run ROLE …` prints the command instead of running it (checked by test/deploy/).
# exec: node becomes PID 1's replacement and receives SIGTERM itself (graceful stop).
set -euo pipefail
cd "${GOALPOST_ROOT:-/app}"

run() {
  if [ "$dry_run" = 1 ]; then
    printf '%s\n' "$@"
  else
    exec "$@"
  fi
}

dry_run=0
if [ "${1:-}" = --dry-run ]; then
  dry_run=1
  shift
fi

case "${1:-}" in
  ingest | processor | api)
    # Fails (and stops the container) when the build lacks the service.
    out="$(node dist/scripts/service-args.js "$1")"
    mapfile -t args <<<"$out"
    run node "${args[@]}"
    ;;
  migrate) run node dist/shared/db/migrate.cli.js ;;
  cli)
    shift
    case "${1:-}" in
      keys | sites) run node dist/api/cli/main.js "$@" ;;
      dlq) run node dist/processor/cli/main.js "$@" ;;
      *) echo "usage: cli keys|sites|dlq …" >&2; exit 64 ;;
    esac
    ;;
  *)
    echo "usage: ingest | processor | api | migrate | cli <group> … (got '${1:-}')" >&2
    exit 64
    ;;
esac
