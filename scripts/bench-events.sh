#!/usr/bin/env bash
# Event store throughput (issue 13; figures go to BENCHMARKS.md):
#   scripts/bench-events.sh [TOTAL] [CONCURRENCY]
# Generates seed scenario 4 (no sign-in, processors off: appends only), builds it, loads its SQL
# into a throwaway database, boots it as the app's role and runs e2e/bench-events.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-4000}
CONCURRENCY=${2:-16}
ADMIN_URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d)
DB="ng_bench_events_$$"
APP_PID=
cleanup() {
  [ -n "$APP_PID" ] && kill "$APP_PID" 2> /dev/null || true
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS ${DB}_app" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cargo build --release -q -p nest-generator
target/release/nest-generator generate --schema fixtures/seed/04-event-sourcing.sql --out "$WORK/api" > /dev/null 2>&1
(cd e2e && [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund > /dev/null)
ln -s "$PWD/e2e/node_modules" "$WORK/api/node_modules"
(cd "$WORK/api" && ./node_modules/.bin/tsc -p tsconfig.json)
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" > /dev/null
DB_URL="${ADMIN_URL%/*}/$DB"
for f in "$WORK"/api/db/*.sql; do psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$f" > /dev/null 2>&1; done
psql "$DB_URL" -qc "CREATE ROLE ${DB}_app LOGIN NOSUPERUSER NOBYPASSRLS" -c "SELECT nestgen.grant_app_role('${DB}_app')" > /dev/null
APP_URL=$(echo "$DB_URL" | sed "s#://[^@]*@#://${DB}_app@#")
PORT=$((20000 + $$ % 10000))
(cd "$WORK/api" && DATABASE_URL="$APP_URL" PORT=$PORT HOST=127.0.0.1 EVENT_PROCESSORS=off RATE_LIMIT_PER_MINUTE=0 DB_POOL_MAX=20 exec node dist/main.js > "$WORK/app.log" 2>&1) &
APP_PID=$!
for _ in $(seq 60); do grep -q "listening on" "$WORK/app.log" 2> /dev/null && break; sleep 0.5; done
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), $(nproc) cores"
(cd e2e && BASE_URL="http://127.0.0.1:$PORT" DATABASE_URL="$DB_URL" TOTAL=$TOTAL CONCURRENCY=$CONCURRENCY node bench-events.mjs)
