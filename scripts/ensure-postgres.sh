#!/usr/bin/env bash
# Make sure a PostgreSQL server answers for the tests; start the local cluster if it does not.
# The tests connect through NEST_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -uo pipefail
URL=${NEST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ready() { psql "$URL" -qAtc 'select 1' > /dev/null 2>&1; }
if ready; then exit 0; fi
echo "PostgreSQL does not answer at $URL; trying to start the local cluster" >&2
if command -v pg_ctlcluster > /dev/null 2>&1 && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >&2 || true
fi
for _ in $(seq 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "error: no PostgreSQL at $URL. Start one, or set NEST_TEST_DATABASE_URL to an admin URL of a server where the user may CREATE DATABASE." >&2
exit 1
