#!/usr/bin/env bash
# Benchmarks of the schema readers (figures go to BENCHMARKS.md).
#   scripts/bench.sh [N_TABLES] [RUNS]
# Offline: parse the synthetic schema of N tables x 10 columns to a Catalog (inspect --json).
# Live: load the same schema into a throwaway database and introspect it.
# Reports the median wall time over RUNS and the peak RSS (GNU time).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
RUNS=${2:-7}
ADMIN_URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BIN=target/release/nest-generator
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release -q -p nest-generator
python3 scripts/synthetic-schema.py "$N" > "$WORK/schema.sql"
echo "schema: $N tables x 10 columns, $(wc -c < "$WORK/schema.sql") bytes, $(grep -c '^CREATE INDEX' "$WORK/schema.sql") indexes"

measure() { # label, command...
  local label=$1; shift
  sync
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    if ! /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" > /dev/null 2> "$WORK/err"; then
      echo "$label failed:" >&2
      tail -20 "$WORK/err" >&2
      exit 1
    fi
    read -r t m < "$WORK/t"
    times+=("$t")
    (( m > rss )) && rss=$m
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-28s median %6.3f s  (min %s, max %s)  peak RSS %d MB\n' "$label" "$median" \
    "$(printf '%s\n' "${times[@]}" | sort -n | head -1)" "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)" $((rss / 1024))
}

measure "offline inspect --json" "$BIN" inspect --schema "$WORK/schema.sql" --json

# Generation into a new folder each run (every file is written). Folders are removed only after
# all runs: deleting thousands of files right before a run slows the next one's writes.
gen_fresh() { "$BIN" generate --schema "$WORK/schema.sql" --out "$WORK/out-$(date +%s%N)"; }
export -f gen_fresh; export BIN WORK
measure "generate (new project)" bash -c gen_fresh
mv "$(ls -d "$WORK"/out-* | head -1)" "$WORK/out"
rm -rf "$WORK"/out-*
files=$(find "$WORK/out" -path "$WORK/out/.nest-generator" -prune -o -type f -print | wc -l)
lines=$(find "$WORK/out" -path "$WORK/out/.nest-generator" -prune -o -type f -print0 | xargs -0 cat | wc -l)
bytes=$(find "$WORK/out" -path "$WORK/out/.nest-generator" -prune -o -type f -print0 | xargs -0 cat | wc -c)
echo "generated: $files files, $lines lines, $((bytes / 1024)) KB (plus .nest-generator/ merge bases)"
measure "regenerate (no change)" "$BIN" generate --schema "$WORK/schema.sql" --out "$WORK/out"

if psql "$ADMIN_URL" -qAtc 'select 1' > /dev/null 2>&1; then
  DB="ng_bench_$$"
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" > /dev/null 2>&1
  DB_URL="${ADMIN_URL%/*}/$DB"
  "$BIN" sql meta > "$WORK/meta.sql"
  psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$WORK/meta.sql" -f "$WORK/schema.sql" > /dev/null
  measure "live inspect --json" "$BIN" inspect --database-url "$DB_URL" --json
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB" > /dev/null
else
  echo "live: skipped, no PostgreSQL at $ADMIN_URL"
fi
