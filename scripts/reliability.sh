#!/usr/bin/env bash
# The reliability suite's fast part: property-based HTTP testing of a generated API.
#
# Generates the seed project (every seed table; RBAC and tenancy off, as the CRUD end-to-end test
# makes it), loads its db/*.sql into a fresh database, starts the app, and runs schemathesis
# (PyPI, installed into target/st-venv) against its OpenAPI 3.1 document with a fixed seed: every
# operation, RELIABILITY_EXAMPLES examples each (default 10), in every phase (examples,
# coverage, fuzzing, stateful). It fails on any server error (5xx), any status code the document
# does not list, any answer whose body, content type or headers do not match the document.
#
# The app connects as the database owner here (ALLOW_UNSAFE_DATABASE_ROLE): what this run attacks
# is the API's handling of input and its document; row-level security under the runtime role is
# what the end-to-end security tests attack. Figures: RELIABILITY.md. Run by scripts/test.sh with
# 5 examples per operation.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${RELIABILITY_EXAMPLES:-10}
SEED=${RELIABILITY_SEED:-1}
ADMIN=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scripts/ensure-postgres.sh
venv=target/st-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis from PyPI into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5" >&2
fi
if [ ! -d e2e/node_modules ]; then (cd e2e && npm ci --no-audit --no-fund > /dev/null); fi
cargo build -q -p nest-generator
work=target/reliability
rm -rf "$work"
mkdir -p "$work"
target/debug/nest-generator generate --schema fixtures/seed --features.rbac=false --features.tenant-scoped=false \
  --out "$work/seed" > "$work/generate.log" 2>&1
ln -s "$PWD/e2e/node_modules" "$work/seed/node_modules"
(cd "$work/seed" && node_modules/.bin/tsc -p tsconfig.json)

db="reliability_$$"
url="${ADMIN%/*}/$db"
psql "$ADMIN" -qc "CREATE DATABASE $db"
app=
cleanup() {
  if [ -n "$app" ]; then kill "$app" 2> /dev/null || true; fi
  psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" > /dev/null 2>&1 || true
}
trap cleanup EXIT
for f in "$work"/seed/db/*.sql; do
  PGOPTIONS='-c client_min_messages=warning' psql "$url" -v ON_ERROR_STOP=1 -q -f "$f" > /dev/null
done
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
  cd "$work/seed"
  DATABASE_URL="$url" ALLOW_UNSAFE_DATABASE_ROLE=true PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn ACCESS_LOG=false \
    RATE_LIMIT_PER_MINUTE=0 exec node dist/main.js
) > "$work/app.log" 2>&1 &
app=$!
for _ in $(seq 60); do
  if curl -fs "http://127.0.0.1:$port/health" > /dev/null; then break; fi
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/health" > /dev/null || { cat "$work/app.log" >&2; exit 1; }

started=$(date +%s)
status=0
# Run in the work folder: schemathesis keeps its example cache (.schemathesis/) where it runs.
(
  cd "$work"
  exec "../../$venv/bin/schemathesis" run "http://127.0.0.1:$port/docs-json" --max-examples "$EXAMPLES" --seed "$SEED" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
) > "$work/schemathesis.log" 2>&1 || status=$?
grep -E "Selected:|Tested:|generated|passed|failures|=====" "$work/schemathesis.log" | tail -6
echo "schemathesis: $EXAMPLES examples per operation, seed $SEED, $(($(date +%s) - started)) s (log: $work/schemathesis.log)"
if [ "$status" -ne 0 ]; then
  sed -n '/FAILURES/,$p' "$work/schemathesis.log" | head -120 >&2
  exit "$status"
fi
