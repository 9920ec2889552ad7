#!/usr/bin/env bash
# `npm test`: bring the local stack up if it is not running (installing what is missing), then
# run every test (unit and integration) against it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local/stack.sh up
exec npx vitest run "$@"
