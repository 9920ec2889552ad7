#!/usr/bin/env bash
# `npm run build`: compiles every service, the CLIs, the migrations runner, the supervisor and
# the benchmarks to plain JavaScript in dist/ (same layout as the sources, so files read
# relative to a module, such as the SQL migrations and the tracker script, sit beside it), and
# copies those files. npm start, the benchmarks and production run `node dist/…`; nothing runs
# under tsx but the tests. Incremental: a second build with no change takes a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS
npx tsc -p tsconfig.build.json
mkdir -p dist/shared/db/migrations dist/ingest/public
# Migrations: exactly the sources' set (a deleted or renamed file must not linger in dist/).
rm -f dist/shared/db/migrations/*.sql
cp shared/db/migrations/*.sql dist/shared/db/migrations/
cp ingest/public/* dist/ingest/public/
# The dashboard (Vite), served by the API from beside its compiled code.
npx vite build --config api/dashboard/vite.config.ts
rm -rf dist/api/dashboard/dist
mkdir -p dist/api/dashboard
cp -r api/dashboard/dist dist/api/dashboard/dist
echo "build: dist/ ready in $((SECONDS - started)) s"
