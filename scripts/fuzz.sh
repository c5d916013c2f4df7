#!/usr/bin/env bash
# Fuzzing, each target for a bounded time (figures go to RELIABILITY.md).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Targets (default: all):
#   parse_sql      any text through the DDL reader                        (cargo fuzz)
#   meta_settings  metadata statements after the seed schema, evaluated into settings, the Model
#                  and the project's files                                (cargo fuzz)
#   sql_types      column types and default/check expressions             (cargo fuzz)
#   query          the list query parser of a generated project (query.ts, compiled) through
#                  CrudRepository.list(), e2e/fuzz-list-query.mjs         (Node)
# Property: no panic (no failure, for `query`). cargo-fuzz is installed into target/cargo-fuzz when
# missing; builds go to target/fuzz-target; corpora live in target/fuzz-corpus/<target> (kept
# between runs, seeded from fixtures/**/*.sql and fuzz/seeds/<target>). A crash input is copied
# into fuzz/regressions/<target>/ — `cargo test -p nest-features --test fuzz_regressions` replays
# those (the query fuzzer replays fuzz/regressions/query/*.json itself) — and the script exits 1.
# Environment: FUZZ_SEED (query fuzzer seed, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(parse_sql meta_settings sql_types query)

TARGET_DIR=$ROOT/target/fuzz-target
CORPUS=$ROOT/target/fuzz-corpus
LOGS=$ROOT/target/fuzz-logs
ARTIFACTS=$ROOT/target/fuzz-artifacts
mkdir -p "$CORPUS" "$LOGS" "$ARTIFACTS"

needs_rust=0
for t in "${TARGETS[@]}"; do
  case $t in
    parse_sql | meta_settings | sql_types) needs_rust=1 ;;
    query) ;;
    *) echo "unknown target $t (parse_sql, meta_settings, sql_types, query)" >&2; exit 2 ;;
  esac
done

if [ $needs_rust = 1 ]; then
  export PATH=$ROOT/target/cargo-fuzz/bin:$PATH
  if ! command -v cargo-fuzz > /dev/null; then
    echo "installing cargo-fuzz into target/cargo-fuzz"
    cargo install cargo-fuzz --root "$ROOT/target/cargo-fuzz" --locked -q
  fi
  echo "building the fuzz targets (nightly, no sanitizer: safe Rust, panics are the property)"
  (cd fuzz && cargo +nightly fuzz build -s none --target-dir "$TARGET_DIR")
  BIN_DIR=$TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release
fi

# Seeds: copied into the corpus folder under a name from their content (idempotent).
seed_file() { # target, file
  local name
  name=$(sha1sum "$2" | cut -c1-40)
  [ -e "$CORPUS/$1/$name" ] || cp "$2" "$CORPUS/$1/$name"
}
seed() { # target
  mkdir -p "$CORPUS/$1"
  case $1 in
    parse_sql)
      while IFS= read -r -d '' f; do seed_file "$1" "$f"; done < <(find fixtures -name '*.sql' -print0)
      ;;
    meta_settings)
      # The fixtures' metadata statements as text (after the prelude), and generator inputs.
      local tmp
      tmp=$(mktemp -d)
      while IFS= read -r -d '' f; do
        awk 'BEGIN { RS = ";" } /(INSERT INTO|UPDATE|DELETE FROM) meta\./ { print $0 ";" }' "$f" > "$tmp/x"
        if [ -s "$tmp/x" ]; then sed -i '/./,$!d' "$tmp/x"; seed_file "$1" "$tmp/x"; fi
      done < <(find fixtures -name '*.sql' -print0)
      # Generator inputs (first byte from 0x80, see fuzz/src/harness.rs): every switch
      # combination, with fixed pseudo-random bytes (sha512 chains) to drive the generator.
      local i k
      for i in $(seq 0 31); do
        {
          printf "\\x$(printf %02x $((0x80 | (i & 15))))\\x$(printf %02x $(((i * 37) & 63)))"
          for k in 1 2 3 4; do printf 'seed %s %s' "$i" "$k" | sha512sum | cut -d' ' -f1 | xxd -r -p; done
        } > "$tmp/g$i"
        seed_file "$1" "$tmp/g$i"
      done
      rm -rf "$tmp"
      ;;
  esac
  local f
  for f in fuzz/seeds/"$1"/* fuzz/regressions/"$1"/*; do
    if [ -f "$f" ]; then seed_file "$1" "$f"; fi
  done
}

failed=()
summary=()

run_cargo_target() { # target
  local t=$1 log=$LOGS/$1.log
  seed "$t"
  rm -rf "${ARTIFACTS:?}/$t" && mkdir -p "$ARTIFACTS/$t"
  echo "== $t: ${SECS}s, corpus target/fuzz-corpus/$t ($(find "$CORPUS/$t" -type f | wc -l) inputs)"
  local rc=0
  "$BIN_DIR/$t" "$CORPUS/$t" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=4096 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t/" > "$log" 2>&1 || rc=$?
  local runs eps cov ft corp
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  local crashes=0
  for a in "$ARTIFACTS/$t"/*; do
    [ -f "$a" ] || continue
    mkdir -p "fuzz/regressions/$t"
    cp "$a" "fuzz/regressions/$t/$(basename "$a")"
    echo "   kept fuzz/regressions/$t/$(basename "$a")"
    crashes=$((crashes + 1))
  done
  if [ $rc = 0 ] && [ $crashes = 0 ]; then
    # Keep the corpus small (libFuzzer only adds to it): the inputs that give its coverage.
    rm -rf "$CORPUS/$t.min" && mkdir -p "$CORPUS/$t.min"
    if "$BIN_DIR/$t" -merge=1 -timeout=30 -max_len=8192 "$CORPUS/$t.min" "$CORPUS/$t" > "$LOGS/$t.merge.log" 2>&1; then
      rm -rf "${CORPUS:?}/$t" && mv "$CORPUS/$t.min" "$CORPUS/$t"
    fi
  else
    failed+=("$t")
    echo "   FAILED (exit $rc, $crashes input(s) kept); log: target/fuzz-logs/$t.log"
    grep -m1 -A12 -E "panicked|deadly signal|ERROR: libFuzzer" "$log" | sed 's/^/   | /' || true
  fi
  summary+=("$(printf '%-14s %6ss %10s runs %8s exec/s  cov %6s  ft %7s  corpus %6s  %s' \
    "$t" "$SECS" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$([ $rc = 0 ] && [ $crashes = 0 ] && echo '0 crashes' || echo "CRASH ($crashes kept)")")")
}

run_query() {
  local log=$LOGS/query.log project=$ROOT/target/fuzz-list-query/project
  echo "== query: ${SECS}s, project generated from fixtures/seed into target/fuzz-list-query/project"
  rm -rf "$project"
  mkdir -p "$(dirname "$project")" fuzz/regressions/query
  local rc=0
  node e2e/fuzz-list-query.mjs --seconds "$SECS" --seed "${FUZZ_SEED:-1}" --project "$project" \
    --replay fuzz/regressions/query --save fuzz/regressions/query 2>&1 | tee "$log" || rc=$?
  [ $rc = 0 ] || failed+=(query)
  local line
  line=$(grep '^list-query fuzz:' "$log" | tail -1 || true)
  summary+=("$(printf '%-14s %6ss  %s' query "$SECS" "${line#list-query fuzz: }")")
}

for t in "${TARGETS[@]}"; do
  case $t in
    query) run_query ;;
    *) run_cargo_target "$t" ;;
  esac
done

echo
echo "fuzz summary ($(date -u +%Y-%m-%d), $(nproc) cores; cov/ft: libFuzzer's edge coverage and features):"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (inputs kept under fuzz/regressions/; logs in target/fuzz-logs/)"
  exit 1
fi
