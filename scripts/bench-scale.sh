#!/usr/bin/env bash
# The generated app at scale (issue 18; figures go to BENCHMARKS.md):
#   scripts/bench-scale.sh [N_TABLES]
# Generates the synthetic schema of scripts/bench.sh (N tables, default 500, with sign-in and
# RBAC), then measures: tsc (wall, peak RSS), the database setup, and the app's boot (until it
# listens) and its RSS once booted and after one request to every table's list route.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
ADMIN_URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d)
DB="ng_bench_scale_$$"
APP_PID=
cleanup() {
  [ -n "$APP_PID" ] && kill "$APP_PID" 2> /dev/null || true
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS ${DB}_app" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cargo build --release -q -p nest-generator
python3 scripts/synthetic-schema.py "$N" > "$WORK/schema.sql"
target/release/nest-generator generate --schema "$WORK/schema.sql" --out "$WORK/api" > /dev/null 2>&1
(cd e2e && [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund > /dev/null)
ln -s "$PWD/e2e/node_modules" "$WORK/api/node_modules"
echo "node $(node --version), $(nproc) cores; $N tables: $(find "$WORK/api/src" -name '*.ts' | wc -l) TypeScript files, $(cat $(find "$WORK/api/src" -name '*.ts') | wc -l) lines"
/usr/bin/time -f "tsc: %e s wall, %M KB peak RSS" -o "$WORK/tsc.time" bash -c "cd '$WORK/api' && ./node_modules/.bin/tsc -p tsconfig.json"
cat "$WORK/tsc.time"
psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" > /dev/null
DB_URL="${ADMIN_URL%/*}/$DB"
start=$(date +%s.%N)
for f in "$WORK"/api/db/*.sql; do psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$f" > /dev/null 2>&1; done
psql "$DB_URL" -qc "CREATE ROLE ${DB}_app LOGIN NOSUPERUSER NOBYPASSRLS" -c "SELECT nestgen.grant_app_role('${DB}_app')" > /dev/null
echo "db/*.sql: $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
APP_URL=$(echo "$DB_URL" | sed "s#://[^@]*@#://${DB}_app@#")
PORT=$((20000 + $$ % 10000))
start=$(date +%s.%N)
(cd "$WORK/api" && exec env DATABASE_URL="$APP_URL" PORT=$PORT HOST=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 \
  AUTH_JWT_SECRET=scale-secret-0123456789-0123456789-abcdef AUTH_ENCRYPTION_KEY=scale-key-0123456789-0123456789-abcdef \
  node dist/main.js > "$WORK/app.log" 2>&1) &
APP_PID=$!
until grep -q "listening on" "$WORK/app.log" 2> /dev/null; do
  kill -0 "$APP_PID" 2> /dev/null || { tail -20 "$WORK/app.log"; exit 1; }
  sleep 0.05
done
echo "boot (start to listening): $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s, RSS $(($(grep VmRSS /proc/$APP_PID/status | awk '{print $2}') / 1024)) MB"
routes=$(grep -o "Mapped {/[a-z0-9-]*, GET}" "$WORK/app.log" | sed 's/Mapped {\(.*\), GET}/\1/' | sort -u)
n=0
for r in $routes; do curl -s -o /dev/null "http://127.0.0.1:$PORT$r"; n=$((n + 1)); done
echo "after one GET on each of $n list routes: RSS $(($(grep VmRSS /proc/$APP_PID/status | awk '{print $2}') / 1024)) MB"
