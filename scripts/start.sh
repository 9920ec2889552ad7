#!/usr/bin/env bash
# `npm start`: bring the local stack up (installing what is missing), then run ingest,
# processor and api in the foreground. Ctrl-C stops all three cleanly (the stack keeps running;
# `npm run stack:down` stops it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local/stack.sh up
exec node --import tsx scripts/start.ts
