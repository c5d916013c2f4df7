#!/usr/bin/env bash
# The generated app at scale (issue 18; figures go to BENCHMARKS.md):
#   scripts/bench-scale.sh [N_TABLES] [lazy|eager]
# Generates the synthetic schema of scripts/bench.sh (N tables, default 500, with sign-in and
# RBAC), its tables' modules loaded on first request (`lazy`, the default from 100 tables) or at
# boot (`eager`: `[project] lazy_modules = false`), then measures: tsc (wall, peak RSS), the
# database setup, and the app's boot (until it listens), its RSS once booted and after one
# request to every table's list route (a tenth of them, then all), and the first /docs-json.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
MODE=${2:-lazy}
case "$MODE" in lazy) LAZY=true ;; eager) LAZY=false ;; *) echo "mode: lazy or eager" >&2; exit 2 ;; esac
source scripts/bench-lib.sh
API="$BENCH_WORK/api"
python3 scripts/synthetic-schema.py "$N" > "$BENCH_WORK/schema.sql"
printf '[project]\nlazy_modules = %s\n' "$LAZY" > "$BENCH_WORK/settings.toml"
bench_project "$API" --schema "$BENCH_WORK/schema.sql" --config "$BENCH_WORK/settings.toml"
echo "node $(node --version), $(nproc) cores; $N tables: $(find "$API/src" -name '*.ts' | wc -l) TypeScript files, $(cat $(find "$API/src" -name '*.ts') | wc -l) lines"
/usr/bin/time -f "tsc: %e s wall, %M KB peak RSS" -o "$BENCH_WORK/tsc.time" bash -c "cd '$API' && ./node_modules/.bin/tsc -p tsconfig.json"
cat "$BENCH_WORK/tsc.time"
start=$(date +%s.%N)
bench_db "ng_bench_scale_$$" "$API"
echo "db/*.sql: $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
PORT=$((20000 + $$ % 10000))
start=$(date +%s.%N)
bench_start "$BENCH_WORK/app.log" env -C "$API" DATABASE_URL="$BENCH_APP_URL" PORT=$PORT HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 \
  AUTH_JWT_SECRET=scale-secret-0123456789-0123456789-abcdef AUTH_ENCRYPTION_KEY=scale-key-0123456789-0123456789-abcdef \
  node dist/main.js
APP_PID=${BENCH_PIDS[-1]}
until grep -q "listening on" "$BENCH_WORK/app.log" 2> /dev/null; do
  kill -0 "$APP_PID" 2> /dev/null || { tail -20 "$BENCH_WORK/app.log"; exit 1; }
  sleep 0.05
done
echo "boot (start to listening): $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s, RSS $(($(grep VmRSS /proc/$APP_PID/status | awk '{print $2}') / 1024)) MB"
# Every table's list route: from LAZY_MODULES when the tables' modules load on first request
# (the default from 100 tables), else from the routes Nest mapped at boot.
if grep -q "^export const LAZY_MODULES: readonly LazyModule\[\] = \[$" "$API/src/app.module.ts"; then
  echo "tables' modules: loaded on their first request (LAZY_MODULES)"
  routes=$(grep -o "path: '[^']*'" "$API/src/app.module.ts" | sed "s/path: '\(.*\)'/\/\1/")
else
  echo "tables' modules: loaded at boot"
  routes=$(grep -o "Mapped {/[a-z0-9-]*, GET}" "$BENCH_WORK/app.log" | sed 's/Mapped {\(.*\), GET}/\1/' | sort -u)
fi
rss() { echo $(($(grep VmRSS /proc/$APP_PID/status | awk '{print $2}') / 1024)); }
# Ordinary traffic on one table (8 in flight, anonymous: 401s) in rounds of 30 s, RSS after each:
# the heap grows at first, until the collector has sized it for the traffic.
traffic() { # ROUNDS LABEL
  for t in $(seq 30 30 $(($1 * 30))); do
    (cd e2e && node --input-type=module -e "
      import { load } from './bench-load.mjs';
      await load('http://127.0.0.1:$PORT', () => ({ path: '$(echo "$routes" | grep -v '^/health$' | tail -1)' }), { seconds: 30, concurrency: 8, status: 401 });")
    echo "  $2, after $t s of requests to one table: RSS $(rss) MB"
  done
}
n=0
total=$(echo "$routes" | wc -l)
start=$(date +%s.%N)
for r in $routes; do
  curl -s -o /dev/null "http://127.0.0.1:$PORT$r"
  n=$((n + 1))
  if [ $n -eq $((total / 10)) ]; then
    spent=$(echo "$(date +%s.%N) - $start" | bc)
    echo "after one GET on each of $n list routes (a tenth): RSS $(rss) MB"
    traffic 3 "a tenth of the tables asked for"
    start=$(echo "$(date +%s.%N) - $spent" | bc)
  fi
done
echo "after one GET on each of $n list routes: RSS $(rss) MB ($(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s for them all)"
start=$(date +%s.%N)
for r in $routes; do curl -s -o /dev/null "http://127.0.0.1:$PORT$r"; done
echo "and again (every module loaded): $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
traffic 3 "every table asked for"
echo "first GET /docs-json (the OpenAPI document is built then): $( { /usr/bin/time -f %e curl -s -o /dev/null "http://127.0.0.1:$PORT/docs-json"; } 2>&1 ) s"
