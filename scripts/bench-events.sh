#!/usr/bin/env bash
# Event store throughput (issue 13; figures go to BENCHMARKS.md):
#   scripts/bench-events.sh [TOTAL] [CONCURRENCY]
# Generates seed scenario 4 (no sign-in, processors off: appends only), builds it, loads its SQL
# into a throwaway database, boots it as the app's role and runs e2e/bench-events.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${1:-4000}
CONCURRENCY=${2:-16}
source scripts/bench-lib.sh
API="$BENCH_WORK/api"
bench_project "$API" --schema fixtures/seed/04-event-sourcing.sql
bench_build "$API"
bench_db "ng_bench_events_$$" "$API"
PORT=$((20000 + $$ % 10000))
bench_start "$BENCH_WORK/app.log" env -C "$API" DATABASE_URL="$BENCH_APP_URL" PORT=$PORT HOST=127.0.0.1 EVENT_PROCESSORS=off \
  RATE_LIMIT_PER_MINUTE=0 DB_POOL_MAX=20 node dist/main.js
bench_wait_listening "$BENCH_WORK/app.log"
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), $(nproc) cores"
(cd e2e && BASE_URL="http://127.0.0.1:$PORT" DATABASE_URL="$BENCH_DB_URL" TOTAL=$TOTAL CONCURRENCY=$CONCURRENCY node bench-events.mjs)
