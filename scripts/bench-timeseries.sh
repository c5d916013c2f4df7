#!/usr/bin/env bash
# Time-series throughput (issue 14; figures go to BENCHMARKS.md):
#   scripts/bench-timeseries.sh [INGEST_ROWS] [QUERY_ROWS]
# Generates seed scenario 5 alone (no sign-in), builds it, loads its SQL into a throwaway database
# (stock PostgreSQL: the series is range-partitioned by the app), boots it as the app's role and
# runs e2e/bench-timeseries.mjs: NDJSON ingest over HTTP against a raw COPY of the same rows, then
# bucketed queries over QUERY_ROWS rows (raw and from the rollup).
set -euo pipefail
cd "$(dirname "$0")/.."
INGEST_ROWS=${1:-1000000}
QUERY_ROWS=${2:-10000000}
source scripts/bench-lib.sh
API="$BENCH_WORK/api"
bench_project "$API" --schema fixtures/seed/05-time-series.sql --all
bench_build "$API"
bench_db "ng_bench_series_$$" "$API"
PORT=$((20000 + $$ % 10000))
bench_start "$BENCH_WORK/app.log" env -C "$API" DATABASE_URL="$BENCH_APP_URL" PORT=$PORT HOST=127.0.0.1 TS_MAINTENANCE=off \
  RATE_LIMIT_PER_MINUTE=0 node dist/main.js
APP_PID=${BENCH_PIDS[-1]}
bench_wait_listening "$BENCH_WORK/app.log"
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), $(nproc) cores"
(cd e2e && BASE_URL="http://127.0.0.1:$PORT" DATABASE_URL="$BENCH_DB_URL" APP_PID=$APP_PID INGEST_ROWS=$INGEST_ROWS QUERY_ROWS=$QUERY_ROWS node bench-timeseries.mjs)
