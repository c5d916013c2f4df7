#!/usr/bin/env bash
# The reliability suite: attacks generated APIs the way attackers and production do.
#
#   scripts/reliability.sh [fast|full]      (fast: what scripts/test.sh and CI run; full: the figures)
#
# Three generated projects, each on a fresh database installed by its own `npm run migrate`:
# - seed: every seed table, RBAC and tenancy off (the CRUD end-to-end project), the app as the
#   database owner (ALLOW_UNSAFE_DATABASE_ROLE: the seed's own policy on `projects` reads a setting
#   only tenancy sets);
# - tenancy: the seed's auth + RBAC + multi-tenancy scenario, the app as its runtime role
#   (NOSUPERUSER NOBYPASSRLS, row-level security on), Redis for its read cache, every request
#   signed in (a super-admin account in an organization of its own, made by the project's own
#   generated test set-up: e2e/reliability/sign-in.mjs);
# - pagila: a real pg_dump (fixtures/real/pagila), the app as its runtime role.
# Then:
# 1. schemathesis (PyPI, target/st-venv) over every operation of each app's OpenAPI 3.1 document,
#    fixed seed, every phase (examples, coverage, fuzzing, stateful): no server error (5xx), no
#    status the document does not list, bodies/content types/headers as documented.
# 2. sqlmap (PyPI) on the tenancy app, signed in: list filter values (text and uuid columns),
#    sort, cursor, a path key, select= and an embed's filter, an aggregate's group, agg and tz,
#    an export's filter, and a JSON body field; 0
#    injectable parameters.
# 3. load + faults (e2e/reliability/load.mjs) on the tenancy app: mixed reads and writes at 64
#    connections (0 errors, 0 non-2xx; p99), then the database refusing connections and the app's
#    connections terminated under a write load: 503 during the outage, recovery without a
#    restart, every acknowledged write kept.
# fast: 5 schemathesis examples per operation, sqlmap level 1, 10 s of load;
# full: 10 examples, sqlmap level 3 / risk 2, 60 s of load. RELIABILITY.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-full}
case "$MODE" in
  fast) EXAMPLES=${RELIABILITY_EXAMPLES:-5} SQLMAP_LEVEL=1 SQLMAP_RISK=1 LOAD_SECONDS=10 ;;
  full) EXAMPLES=${RELIABILITY_EXAMPLES:-10} SQLMAP_LEVEL=3 SQLMAP_RISK=2 LOAD_SECONDS=60 ;;
  *)
    echo "usage: scripts/reliability.sh [fast|full]" >&2
    exit 2
    ;;
esac
SEED=${RELIABILITY_SEED:-1}
# RELIABILITY_PARTS: which apps (default all three; the tenancy one carries sqlmap, load and faults).
PARTS=${RELIABILITY_PARTS:-seed pagila tenancy}
want() { [[ " $PARTS " == *" $1 "* ]]; }
ADMIN=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scripts/ensure-postgres.sh
scripts/ensure-redis.sh
REDIS=${REDIS_URL:-redis://127.0.0.1:6379}
venv=target/st-venv
if [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/sqlmap" ]; then
  echo "installing schemathesis and sqlmap from PyPI into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5" "sqlmap==1.10.10" >&2
fi
if [ ! -d e2e/node_modules ]; then (cd e2e && npm ci --no-audit --no-fund > /dev/null); fi
cargo build -q -p nest-generator
gen="$PWD/target/debug/nest-generator"
work="$PWD/target/reliability"
rm -rf "$work"
mkdir -p "$work"
role="reliability_app_$$"
apps=()
dbs=()
cleanup() {
  for pid in "${apps[@]}"; do kill "$pid" 2> /dev/null || true; done
  for db in "${dbs[@]}"; do psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null 2>&1 || true; done
  psql "$ADMIN" -qc "DROP ROLE IF EXISTS $role" > /dev/null 2>&1 || true
}
trap cleanup EXIT
failed=()

# project NAME: compiles the generated project in $work/NAME (and its tests, for the sign-in set-up).
compile() {
  ln -s "$PWD/e2e/node_modules" "$work/$1/node_modules"
  (cd "$work/$1" && node_modules/.bin/tsc -p tsconfig.json && node_modules/.bin/tsc -p tsconfig.test.json)
}
# start NAME AS: a fresh database installed by the project's `npm run migrate` (as the owner,
# creating the runtime role), then the app — as the runtime role, or the owner with AS=owner.
# Sets URL_<NAME> (owner), BASE (the app) and DB.
start() {
  local name=$1 as=$2
  DB="reliability_${name}_$$"
  local owner_url="${ADMIN%/*}/$DB"
  psql "$ADMIN" -qc "CREATE DATABASE $DB"
  dbs+=("$DB")
  (cd "$work/$name" && MIGRATE_DATABASE_URL="$owner_url" APP_ROLE="$role" APP_ROLE_PASSWORD=reliability \
    PGOPTIONS='-c client_min_messages=warning' node scripts/migrate.mjs > "$work/$name.migrate.log")
  local app_url="postgres://$role:reliability@127.0.0.1:5432/$DB" unsafe=false
  if [ "$as" = owner ]; then app_url="$owner_url" unsafe=true; fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (
    cd "$work/$name"
    DATABASE_URL="$app_url" ALLOW_UNSAFE_DATABASE_ROLE=$unsafe PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn ACCESS_LOG=false \
      RATE_LIMIT_PER_MINUTE=0 REDIS_URL="$REDIS" MAIL_TRANSPORT=log \
      AUTH_JWT_SECRET=reliability-secret-reliability-secret-0123456789 AUTH_ENCRYPTION_KEY=reliability-key-reliability-key-0123456789 \
      exec node dist/main.js
  ) > "$work/$name.app.log" 2>&1 &
  apps+=($!)
  BASE="http://127.0.0.1:$port"
  OWNER_URL="$owner_url"
  for _ in $(seq 80); do
    if curl -fs "$BASE/health" > /dev/null; then return 0; fi
    sleep 0.5
  done
  cat "$work/$name.app.log" >&2
  return 1
}

# schemathesis NAME [HEADER...]: every operation of the running app's document.
schemathesis() {
  local name=$1
  shift
  local args=() started status=0
  for h in "$@"; do args+=(-H "$h"); done
  started=$(date +%s)
  # Run in the work folder: schemathesis keeps its example cache (.schemathesis/) where it runs.
  (
    cd "$work"
    exec "$OLDPWD/$venv/bin/schemathesis" run "$BASE/docs-json" --max-examples "$EXAMPLES" --seed "$SEED" "${args[@]}" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
  ) > "$work/$name.schemathesis.log" 2>&1 || status=$?
  echo "schemathesis on $name: $EXAMPLES examples per operation, seed $SEED, $(($(date +%s) - started)) s (log: $work/$name.schemathesis.log)"
  grep -E "Selected:|Tested:|generated|passed|failures|=====" "$work/$name.schemathesis.log" | tail -6 | sed 's/^/  /'
  if [ "$status" -ne 0 ]; then
    sed -n '/FAILURES/,$p' "$work/$name.schemathesis.log" | head -120 >&2
    failed+=("schemathesis on $name")
  fi
}

# headers_of JSON: the sign-in headers as "Name: value" lines.
headers_of() {
  node -e 'for (const [k, v] of Object.entries(JSON.parse(process.argv[1]))) console.log(`${k}: ${v}`)' "$1"
}

echo "generating and compiling the projects in $work"
"$gen" generate --schema fixtures/seed --features.rbac=false --features.tenant-scoped=false --out "$work/seed" > "$work/seed.generate.log" 2>&1
"$gen" generate --schema fixtures/seed/02-rbac.sql --schema fixtures/seed/01-multi-tenancy.sql \
  --schema fixtures/seed/01b-multi-tenancy-metadata.sql users --features.auth=true --features.rbac=true \
  --out "$work/tenancy" > "$work/tenancy.generate.log" 2>&1
(
  cd "$work/tenancy"
  "$gen" generate organizations --features.rbac=true
  "$gen" generate organization_users --features.rbac=true --features.tenant-scoped=true
  "$gen" generate projects roles permissions role_permissions
) >> "$work/tenancy.generate.log" 2>&1
"$gen" generate --schema fixtures/real/pagila/schema.sql --out "$work/pagila" > "$work/pagila.generate.log" 2>&1
for p in $PARTS; do compile "$p"; done

# 1. schemathesis
if want seed; then
  start seed owner
  schemathesis seed
fi
if want pagila; then
  start pagila runtime
  schemathesis pagila
fi
if want tenancy; then
  start tenancy runtime
  TENANCY_BASE=$BASE TENANCY_DB=$DB TENANCY_OWNER=$OWNER_URL
  signed=$(node e2e/reliability/sign-in.mjs "$work/tenancy" "$BASE" "$OWNER_URL")
  mapfile -t HEADERS < <(headers_of "$signed")
  [ "${#HEADERS[@]}" -ge 2 ] || { echo "error: the sign-in gave no headers: $signed" >&2; exit 1; }

  # 2. sqlmap on the tenancy app, signed in, on rows of its own (before its schemathesis run).
  BASE=$TENANCY_BASE
  curl_h=()
  for h in "${HEADERS[@]}"; do curl_h+=(-H "$h"); done
  make_row() { curl -fs "${curl_h[@]}" -H 'content-type: application/json' -d "{\"name\":\"$1\",\"description\":\"x\"}" "$BASE/v1/projects"; }
  make_row "sqlmap other" > /dev/null
  row=$(make_row "sqlmap target")
  row_id=$(node -e 'console.log(JSON.parse(process.argv[1]).data.id)' "$row")
  page=$(curl -fs "${curl_h[@]}" "$BASE/v1/projects?limit=1")
  cursor=$(node -e 'console.log(JSON.parse(process.argv[1]).meta.nextCursor ?? "")' "$page")
  [ -n "$cursor" ] || { echo "error: no next cursor on a one-row page of /v1/projects: $page" >&2; exit 1; }
  # Each target marks its injection point with * after a value the app accepts.
  sqlmap_targets=(
    "/v1/projects?name=eq.sqlmap%20target*"
    "/v1/projects?id=eq.$row_id*"
    "/v1/projects?sort=name*"
    "/v1/projects?limit=1&cursor=$cursor*"
    "/v1/projects/$row_id*"
    "/roles?slug=like.super*"
    "/v1/projects?select=id,name,organization(slug)*"
    "/v1/projects?select=id,organization(slug)&organization.slug=eq.a*"
    "/v1/projects/aggregate?agg=count,max(name)&group=name*"
    "/v1/projects/aggregate?agg=count,max(name)*"
    "/v1/projects/aggregate?bucket=createdAt:day&tz=Europe/Paris*"
    "/v1/projects/export?format=ndjson&name=like.sqlmap*"
  )
  started=$(date +%s)
  n=0
  for target in "${sqlmap_targets[@]}"; do
    n=$((n + 1))
    log="$work/sqlmap.$n.log"
    "$venv/bin/sqlmap" -u "$BASE$target" "${HEADERS[@]/#/--header=}" --batch --dbms=PostgreSQL \
      --level="$SQLMAP_LEVEL" --risk="$SQLMAP_RISK" --time-sec=2 --flush-session --output-dir="$work/sqlmap" \
      --disable-coloring -t "$log.traffic" > "$log" 2>&1 || true
    if grep -q "identified the following injection point" "$log"; then
      failed+=("sqlmap: $target is injectable ($log)")
    elif ! grep -qE "do not appear to be injectable|does not seem to be injectable" "$log"; then
      failed+=("sqlmap did not finish on $target ($log)")
    fi
  done
  # A JSON body field of a create.
  log="$work/sqlmap.body.log"
  "$venv/bin/sqlmap" -u "$BASE/v1/projects" --data '{"name":"x*","description":"y"}' "${HEADERS[@]/#/--header=}" \
    --batch --dbms=PostgreSQL --level="$SQLMAP_LEVEL" --risk="$SQLMAP_RISK" --time-sec=2 --flush-session \
    --output-dir="$work/sqlmap" --disable-coloring -t "$log.traffic" > "$log" 2>&1 || true
  if grep -q "identified the following injection point" "$log"; then
    failed+=("sqlmap: the JSON body is injectable ($log)")
  elif ! grep -qE "do not appear to be injectable|does not seem to be injectable" "$log"; then
    failed+=("sqlmap did not finish on the JSON body ($log)")
  fi
  requests=$(cat "$work"/sqlmap.*.traffic | grep -c "^HTTP request \[#" || true)
  echo "sqlmap: $((${#sqlmap_targets[@]} + 1)) injection points, level $SQLMAP_LEVEL, risk $SQLMAP_RISK, $(($(date +%s) - started)) s, $requests requests"

  # 3. load and faults on the tenancy app, signed in.
  node e2e/reliability/load.mjs --base "$TENANCY_BASE" --owner "$TENANCY_OWNER" --admin "$ADMIN" --db "$TENANCY_DB" \
    --headers "$signed" --write /v1/projects --table public.projects --body '{"name":"load {n}","description":"row {n}"}' \
    --seconds "$LOAD_SECONDS" --connections 64 --out "$work/load.json" || failed+=("load and faults (see above)")
  # Last on this app: its stateful phase may close the signed-in account (DELETE /users/{id}).
  schemathesis tenancy "${HEADERS[@]}"
  if grep -E "^\[?.*(FATAL|Unhandled|uncaught)" "$work/tenancy.app.log" > /dev/null; then
    failed+=("the tenancy app logged a crash: $work/tenancy.app.log")
  fi
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "reliability ($MODE): every part passed"
