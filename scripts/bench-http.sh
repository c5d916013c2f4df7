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
ADMIN_URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d)
DB="ng_bench_http_$$"
TDB="ng_bench_tenant_$$"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS ${DB}_app" > /dev/null 2>&1 || true
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $TDB WITH (FORCE)" -c "DROP ROLE IF EXISTS ${TDB}_app" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cargo build --release -q -p nest-generator
target/release/nest-generator generate --schema fixtures/bench/items.sql --out "$WORK/api" --features.rbac=false > /dev/null 2>&1
(cd e2e && [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund > /dev/null)
ln -s "$PWD/e2e/node_modules" "$WORK/api/node_modules"
(cd "$WORK/api" && ./node_modules/.bin/tsc -p tsconfig.json)
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" > /dev/null
DB_URL="${ADMIN_URL%/*}/$DB"
for f in "$WORK"/api/db/*.sql; do psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$f" > /dev/null 2>&1; done
psql "$DB_URL" -q -c "INSERT INTO items (status, name, price, created_at)
  SELECT (ARRAY['active', 'archived', 'draft'])[1 + g % 3], 'item ' || g, (g % 10000) / 100.0, now() - g * interval '1 second'
    FROM generate_series(1, $ROWS) g" \
  -c "UPDATE items SET deleted_at = now() WHERE id % 50 = 0" -c "VACUUM ANALYZE items" > /dev/null
psql "$DB_URL" -qc "CREATE ROLE ${DB}_app LOGIN NOSUPERUSER NOBYPASSRLS" -c "SELECT nestgen.grant_app_role('${DB}_app')" > /dev/null
APP_DB_URL=$(echo "$DB_URL" | sed "s#://[^@]*@#://${DB}_app@#")
# The tenant-scoped project and its database.
GEN="$PWD/target/release/nest-generator"
$GEN generate --schema fixtures/seed/02-rbac.sql --schema fixtures/seed/01-multi-tenancy.sql \
  --schema fixtures/seed/01b-multi-tenancy-metadata.sql --out "$WORK/tenant" users --features.auth=true --features.rbac=true > /dev/null 2>&1
(cd "$WORK/tenant" && $GEN generate organizations organization_users projects --features.rbac=true > /dev/null 2>&1)
ln -s "$PWD/e2e/node_modules" "$WORK/tenant/node_modules"
(cd "$WORK/tenant" && ./node_modules/.bin/tsc -p tsconfig.json)
psql "$ADMIN_URL" -qc "CREATE DATABASE $TDB" > /dev/null
TDB_URL="${ADMIN_URL%/*}/$TDB"
for f in "$WORK"/tenant/db/*.sql; do psql "$TDB_URL" -q -v ON_ERROR_STOP=1 -f "$f" > /dev/null 2>&1; done
psql "$TDB_URL" -q -c "INSERT INTO organizations (name, slug) SELECT 'Bench ' || g, 'bench-' || g FROM generate_series(1, 10) g" \
  -c "INSERT INTO projects (organization_id, name, status)
        SELECT (SELECT id FROM organizations WHERE slug = 'bench-' || (1 + g % 10)), 'project ' || g, 'active'
          FROM generate_series(1, $ROWS) g" \
  -c "CREATE INDEX projects_bench_org_id ON projects (organization_id, id) WHERE deleted_at IS NULL" -c "VACUUM ANALYZE projects" > /dev/null
psql "$TDB_URL" -qc "CREATE ROLE ${TDB}_app LOGIN NOSUPERUSER NOBYPASSRLS" -c "SELECT nestgen.grant_app_role('${TDB}_app')" > /dev/null
TAPP_DB_URL=$(echo "$TDB_URL" | sed "s#://[^@]*@#://${TDB}_app@#")
SECRET=bench-secret-0123456789-0123456789-abcdef

P_APP=$((20000 + $$ % 10000))
P_RAW=$((P_APP + 1))
P_TENANT=$((P_APP + 2))
(cd "$WORK/tenant" && exec env DATABASE_URL="$TAPP_DB_URL" PORT=$P_TENANT HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 DB_POOL_MAX=20 \
  AUTH_JWT_SECRET=$SECRET AUTH_ENCRYPTION_KEY=bench-key-0123456789-0123456789-abcdef node dist/main.js > "$WORK/tenant.log" 2>&1) &
PIDS+=($!)
(cd "$WORK/api" && exec env DATABASE_URL="$APP_DB_URL" PORT=$P_APP HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 DB_POOL_MAX=20 \
  node dist/main.js > "$WORK/app.log" 2>&1) &
PIDS+=($!)
(cd e2e && exec env DATABASE_URL="$APP_DB_URL" PORT=$P_RAW DB_POOL_MAX=20 TENANT_DATABASE_URL="$TAPP_DB_URL" AUTH_JWT_SECRET=$SECRET \
  node bench-raw-server.mjs > "$WORK/raw.log" 2>&1) &
PIDS+=($!)
for log in app raw tenant; do
  for _ in $(seq 60); do grep -q "listening on" "$WORK/$log.log" 2> /dev/null && break; sleep 0.5; done
done
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), $(nproc) cores"
(cd e2e && RAW_URL="http://127.0.0.1:$P_RAW" APP_URL="http://127.0.0.1:$P_APP" DATABASE_URL="$DB_URL" \
  TENANT_APP_URL="http://127.0.0.1:$P_TENANT" TENANT_DATABASE_URL="$TDB_URL" \
  SECONDS_PER_ROUND=$SECONDS_PER_ROUND CONCURRENCY=$CONCURRENCY ROUNDS=$ROUNDS node bench-http.mjs)
