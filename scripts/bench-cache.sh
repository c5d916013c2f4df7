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
REDIS_URL=${NEST_TEST_REDIS_URL:-redis://127.0.0.1:6379}
scripts/ensure-redis.sh > /dev/null
source scripts/bench-lib.sh
API="$BENCH_WORK/api"
bench_tenancy_project "$API"
bench_db "ng_bench_cache_$$" "$API"
P1=$((20000 + $$ % 10000))
P2=$((P1 + 1))
for run in "$P1 REDIS_URL=$REDIS_URL" "$P2 CACHE=off"; do
  set -- $run
  bench_start "$BENCH_WORK/app-$1.log" env -C "$API" DATABASE_URL="$BENCH_APP_URL" PORT="$1" HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 \
    DB_POOL_MAX=20 AUTH_JWT_SECRET=bench-secret-0123456789-0123456789-abcdef AUTH_ENCRYPTION_KEY=bench-key-0123456789-0123456789-abcdef \
    REDIS_PREFIX="ng-bench-$$:" "$2" node dist/main.js
done
bench_wait_listening "$BENCH_WORK/app-$P1.log"
bench_wait_listening "$BENCH_WORK/app-$P2.log"
echo "node $(node --version), $(psql "$ADMIN_URL" -qAtc 'SHOW server_version'), redis $(redis-cli -u "$REDIS_URL" info server | grep -o 'redis_version:[0-9.]*' | cut -d: -f2), $(nproc) cores"
(cd e2e && CACHED_URL="http://127.0.0.1:$P1" UNCACHED_URL="http://127.0.0.1:$P2" DATABASE_URL="$BENCH_DB_URL" \
  SECONDS_PER_ROUND=$SECONDS_PER_ROUND CONCURRENCY=$CONCURRENCY node bench-cache.mjs)
