# Shared by the bench scripts (source it after `cd` to the repository root): throwaway
# databases and generated projects, removed on exit.
#   bench_project DIR GENERATE-ARGS...   generate into DIR (then build it); more with bench_generate_in
#   bench_tenancy_project DIR            the seed's tenancy scenario (sign-in, RBAC, tenant-scoped
#                                        organizations, members, projects), built
#   bench_db NAME PROJECT                a database NAME loaded with PROJECT/db/*.sql as the owner and
#                                        an app role NAME_app; sets BENCH_DB_URL and BENCH_APP_URL
#   bench_start LOG CMD...               start CMD in the background (killed on exit)
#   bench_wait_listening LOG             until LOG says "listening on"
ADMIN_URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BENCH_WORK=$(mktemp -d)
BENCH_PIDS=()
BENCH_DBS=()
bench_cleanup() {
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  for d in "${BENCH_DBS[@]}"; do
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" -c "DROP ROLE IF EXISTS ${d}_app" > /dev/null 2>&1 || true
  done
  rm -rf "$BENCH_WORK"
}
trap bench_cleanup EXIT
cargo build --release -q -p nest-generator
BENCH_GEN="$PWD/target/release/nest-generator"
(cd e2e && [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund > /dev/null)

bench_project() {
  local dir=$1
  shift
  "$BENCH_GEN" generate --out "$dir" "$@" > /dev/null 2>&1
  ln -s "$PWD/e2e/node_modules" "$dir/node_modules"
}

bench_generate_in() { # DIR ARGS...: `generate ARGS` inside the project
  local dir=$1
  shift
  (cd "$dir" && "$BENCH_GEN" generate "$@" > /dev/null 2>&1)
}

bench_build() {
  (cd "$1" && ./node_modules/.bin/tsc -p tsconfig.json)
}

bench_tenancy_project() {
  bench_project "$1" --schema fixtures/seed/02-rbac.sql --schema fixtures/seed/01-multi-tenancy.sql \
    --schema fixtures/seed/01b-multi-tenancy-metadata.sql users --features.auth=true --features.rbac=true
  bench_generate_in "$1" organizations organization_users projects --features.rbac=true
  bench_build "$1"
}

bench_db() {
  local name=$1 project=$2
  BENCH_DBS+=("$name")
  psql "$ADMIN_URL" -qc "CREATE DATABASE $name" > /dev/null
  BENCH_DB_URL="${ADMIN_URL%/*}/$name"
  for f in "$project"/db/*.sql; do psql "$BENCH_DB_URL" -q -v ON_ERROR_STOP=1 -f "$f" > /dev/null 2>&1; done
  psql "$BENCH_DB_URL" -qc "CREATE ROLE ${name}_app LOGIN NOSUPERUSER NOBYPASSRLS" -c "SELECT nestgen.grant_app_role('${name}_app')" > /dev/null
  BENCH_APP_URL=$(echo "$BENCH_DB_URL" | sed "s#://[^@]*@#://${name}_app@#")
}

bench_start() {
  local log=$1
  shift
  "$@" > "$log" 2>&1 &
  BENCH_PIDS+=($!)
}

bench_wait_listening() {
  for _ in $(seq 120); do grep -q "listening on" "$1" 2> /dev/null && return 0; sleep 0.5; done
  echo "not listening: $1" >&2
  tail -20 "$1" >&2
  return 1
}
