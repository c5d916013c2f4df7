#!/usr/bin/env bash
# The generated app against a hand-written node:http + pg server (issue 18; figures go to
# BENCHMARKS.md):
#   scripts/bench-http.sh [ROWS] [SECONDS_PER_ROUND] [CONCURRENCY] [ROUNDS]
# Generates fixtures/bench/items.sql without sign-in, builds it, loads ROWS rows (default
# 1,000,000) into a throwaway database and boots the app and e2e/bench-raw-server.mjs on it, both
# as the app's role with the same pool size; e2e/bench-http.mjs measures each endpoint on both,
# alternately, in one run. The tenant-scoped case: the seed's tenancy scenario (sign-in, RBAC,
# row-level security) in a second database, ROWS projects over 10 organizations (an
# (organization_id, id) index for both servers), the app's read cache off (no REDIS_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
SECONDS_PER_ROUND=${2:-10}
CONCURRENCY=${3:-32}
ROUNDS=${4:-2}
source scripts/bench-lib.sh
SECRET=bench-secret-0123456789-0123456789-abcdef

# The plain table.
API="$BENCH_WORK/api"
bench_project "$API" --schema fixtures/bench/items.sql --features.rbac=false
bench_build "$API"
bench_db "ng_bench_http_$$" "$API"
ITEMS_DB_URL=$BENCH_DB_URL
ITEMS_APP_URL=$BENCH_APP_URL
psql "$ITEMS_DB_URL" -q -c "INSERT INTO items (status, name, price, created_at)
  SELECT (ARRAY['active', 'archived', 'draft'])[1 + g % 3], 'item ' || g, (g % 10000) / 100.0, now() - g * interval '1 second'
    FROM generate_series(1, $ROWS) g" \
  -c "UPDATE items SET deleted_at = now() WHERE id % 50 = 0" -c "VACUUM ANALYZE items" > /dev/null

# The tenant-scoped project and its database.
TENANT="$BENCH_WORK/tenant"
bench_tenancy_project "$TENANT"
bench_db "ng_bench_tenant_$$" "$TENANT"
psql "$BENCH_DB_URL" -q -c "INSERT INTO organizations (name, slug) SELECT 'Bench ' || g, 'bench-' || g FROM generate_series(1, 10) g" \
  -c "INSERT INTO projects (organization_id, name, status)
        SELECT (SELECT id FROM organizations WHERE slug = 'bench-' || (1 + g % 10)), 'project ' || g, 'active'
          FROM generate_series(1, $ROWS) g" \
  -c "CREATE INDEX projects_bench_org_id ON projects (organization_id, id) WHERE deleted_at IS NULL" -c "VACUUM ANALYZE projects" > /dev/null

P_APP=$((20000 + $$ % 10000))
P_RAW=$((P_APP + 1))
P_TENANT=$((P_APP + 2))
bench_start "$BENCH_WORK/app.log" env -C "$API" DATABASE_URL="$ITEMS_APP_URL" PORT=$P_APP HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 \
  DB_POOL_MAX=20 node dist/main.js
bench_start "$BENCH_WORK/tenant.log" env -C "$TENANT" DATABASE_URL="$BENCH_APP_URL" PORT=$P_TENANT HOST=127.0.0.1 \
  RATE_LIMIT_PER_MINUTE=0 DB_POOL_MAX=20 AUTH_JWT_SECRET=$SECRET AUTH_ENCRYPTION_KEY=bench-key-0123456789-0123456789-abcdef \
  node dist/main.js
bench_start "$BENCH_WORK/raw.log" env -C e2e DATABASE_URL="$ITEMS_APP_URL" PORT=$P_RAW DB_POOL_MAX=20 \
  TENANT_DATABASE_URL="$BENCH_APP_URL" AUTH_JWT_SECRET=$SECRET node bench-raw-server.mjs
APP_PID=${BENCH_PIDS[0]} TENANT_APP_PID=${BENCH_PIDS[1]} RAW_PID=${BENCH_PIDS[2]}
for log in app raw tenant; do bench_wait_listening "$BENCH_WORK/$log.log"; done
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), $(nproc) cores"
(cd e2e && RAW_URL="http://127.0.0.1:$P_RAW" APP_URL="http://127.0.0.1:$P_APP" DATABASE_URL="$ITEMS_DB_URL" \
  RAW_PID=$RAW_PID APP_PID=$APP_PID TENANT_APP_PID=$TENANT_APP_PID \
  TENANT_APP_URL="http://127.0.0.1:$P_TENANT" TENANT_DATABASE_URL="$BENCH_DB_URL" \
  SECONDS_PER_ROUND=$SECONDS_PER_ROUND CONCURRENCY=$CONCURRENCY ROUNDS=$ROUNDS node bench-http.mjs)
