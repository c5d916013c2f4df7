#!/usr/bin/env bash
# A list with embedded related rows vs the plain list (issue 21; figures go to BENCHMARKS.md):
#   scripts/bench-embed.sh [ORDERS] [SECONDS_PER_ROUND] [CONCURRENCY] [ROUNDS]
# Generates fixtures/bench/orders.sql, loads ORDERS orders (default 100,000) over ORDERS/10
# customers with three lines each, and measures `GET /orders?limit=20` with and without
# `select=*,customer(...),orderLines(...)` on the same app, alternately (e2e/bench-embed.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${1:-100000}
SECONDS_PER_ROUND=${2:-10}
CONCURRENCY=${3:-32}
ROUNDS=${4:-2}
source scripts/bench-lib.sh
API="$BENCH_WORK/api"
bench_project "$API" --schema fixtures/bench/orders.sql
bench_build "$API"
bench_db "ng_bench_embed_$$" "$API"
psql "$BENCH_DB_URL" -q -c "INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, GREATEST($ORDERS / 10, 1)) g" \
  -c "INSERT INTO orders (customer_id, status, total) SELECT 1 + g % GREATEST($ORDERS / 10, 1), (ARRAY['open', 'paid', 'shipped'])[1 + g % 3], (g % 1000) + 0.99 FROM generate_series(1, $ORDERS) g" \
  -c "INSERT INTO order_lines (order_id, sku, quantity, price) SELECT o.id, 'sku-' || (o.id * 3 + l), 1 + l, 9.99 FROM orders o, generate_series(1, 3) l" \
  -c "VACUUM ANALYZE" > /dev/null
PORT=$((20000 + $$ % 10000))
bench_start "$BENCH_WORK/app.log" env -C "$API" DATABASE_URL="$BENCH_APP_URL" PORT=$PORT HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 \
  DB_POOL_MAX=20 node dist/main.js
bench_wait_listening "$BENCH_WORK/app.log"
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), $(nproc) cores; $ORDERS orders"
(cd e2e && APP_URL="http://127.0.0.1:$PORT" SECONDS_PER_ROUND=$SECONDS_PER_ROUND CONCURRENCY=$CONCURRENCY ROUNDS=$ROUNDS node bench-embed.mjs)
