#!/usr/bin/env bash
# `npm start`: bring the local stack up (installing what is missing), build, then run ingest,
# processor and api from the build in the foreground. Ctrl-C stops all three cleanly (the stack
# keeps running; `npm run stack:down` stops it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local/stack.sh up
# The services run from the build (incremental: seconds when nothing changed).
bash scripts/build.sh
exec node dist/scripts/start.js
