#!/usr/bin/env bash
# Read cache (issue 17; figures go to BENCHMARKS.md): cached vs uncached GET in one run.
#   scripts/bench-cache.sh [SECONDS_PER_ROUND] [CONCURRENCY]
# Generates the seed's tenancy scenario (sign-in, RBAC, tenant-scoped projects cached by the
# metadata), builds it, loads its SQL into a throwaway database and boots it twice as the app's
# role: one instance with the machine's Redis, one with CACHE=off. e2e/bench-cache.mjs then loads
# 20,000 projects and alternates the two instances, round by round.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_ROUND=${1:-8}
CONCURRENCY=${2:-32}
ADMIN_URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${NEST_TEST_REDIS_URL:-redis://127.0.0.1:6379}
WORK=$(mktemp -d)
DB="ng_bench_cache_$$"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS ${DB}_app" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
scripts/ensure-redis.sh > /dev/null
cargo build --release -q -p nest-generator
GEN="$PWD/target/release/nest-generator"
$GEN generate --schema fixtures/seed/02-rbac.sql --schema fixtures/seed/01-multi-tenancy.sql \
  --schema fixtures/seed/01b-multi-tenancy-metadata.sql --out "$WORK/api" users --features.auth=true --features.rbac=true > /dev/null 2>&1
(cd "$WORK/api" && $GEN generate organizations organization_users projects --features.rbac=true > /dev/null 2>&1)
(cd e2e && [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund > /dev/null)
ln -s "$PWD/e2e/node_modules" "$WORK/api/node_modules"
(cd "$WORK/api" && ./node_modules/.bin/tsc -p tsconfig.json)
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" > /dev/null
DB_URL="${ADMIN_URL%/*}/$DB"
for f in "$WORK"/api/db/*.sql; do psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$f" > /dev/null 2>&1; done
psql "$DB_URL" -qc "CREATE ROLE ${DB}_app LOGIN NOSUPERUSER NOBYPASSRLS" -c "SELECT nestgen.grant_app_role('${DB}_app')" > /dev/null
APP_URL=$(echo "$DB_URL" | sed "s#://[^@]*@#://${DB}_app@#")
boot() { # port, extra env...
  local port=$1
  shift
  (cd "$WORK/api" && exec env DATABASE_URL="$APP_URL" PORT="$port" HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 DB_POOL_MAX=20 \
    AUTH_JWT_SECRET=bench-secret-0123456789-0123456789-abcdef AUTH_ENCRYPTION_KEY=bench-key-0123456789-0123456789-abcdef \
    REDIS_PREFIX="ng-bench-$$:" "$@" node dist/main.js > "$WORK/app-$port.log" 2>&1) &
  PIDS+=($!)
}
P1=$((20000 + $$ % 10000))
P2=$((P1 + 1))
boot "$P1" REDIS_URL="$REDIS_URL"
boot "$P2" CACHE=off
for p in $P1 $P2; do
  for _ in $(seq 60); do grep -q "listening on" "$WORK/app-$p.log" 2> /dev/null && break; sleep 0.5; done
done
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), redis $(redis-cli -u "$REDIS_URL" info server | grep -o 'redis_version:[0-9.]*' | cut -d: -f2), $(nproc) cores"
(cd e2e && CACHED_URL="http://127.0.0.1:$P1" UNCACHED_URL="http://127.0.0.1:$P2" DATABASE_URL="$DB_URL" \
  SECONDS_PER_ROUND=$SECONDS_PER_ROUND CONCURRENCY=$CONCURRENCY node bench-cache.mjs)
