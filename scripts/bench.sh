#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, against the local stack (started if needed).
# Benchmarks print their figures and the ratio to a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local/stack.sh up
shopt -s nullglob
for b in bench/*.bench.ts; do
  echo "=== $b"
  npx tsx "$b"
done
