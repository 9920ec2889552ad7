#!/usr/bin/env bash
# `npm test`: bring the local stack up if it is not running (installing what is missing), then
# run every test (unit and integration) against it, and close with one summary line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/local/stack.sh up
# Tests that run services as processes run them from the build, as production does.
bash scripts/build.sh
# Headless Chromium for the tracker's browser tests (Debian package; installed when missing).
bash deploy/local/chromium.sh
# Debian's docker-compose, which validates deploy/compose/ (test/deploy/; no container engine).
bash deploy/local/compose-cli.sh
mkdir -p .stack
report=.stack/vitest-report.json
rm -f "$report"
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || rc=$?
if [ -f "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  ' "$report"
fi
exit "$rc"
