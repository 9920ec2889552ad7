#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, against the local stack (started if needed).
# Benchmarks print their figures and the ratio to a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local/stack.sh up
# Benchmarks and the services they start run from the build, as production does.
bash scripts/build.sh
shopt -s nullglob
for b in dist/bench/*.bench.js; do
  echo "=== $b"
  node "$b"
done
