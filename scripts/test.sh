#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, golden, property, CLI and live-database tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# BLESS=1 rewrites snapshots instead of comparing them: a suite run with it proves nothing.
if [ -n "${BLESS:-}" ]; then
  echo "error: BLESS is set; unset it to run the suite (BLESS=1 is for rewriting snapshots on purpose)" >&2
  exit 1
fi
scripts/ensure-postgres.sh
scripts/ensure-redis.sh
scripts/ensure-nats.sh
scripts/ensure-moto.sh
NESTGEN_COMPOSE="$(scripts/ensure-compose.sh)"
export NESTGEN_COMPOSE
command -v pg_dump > /dev/null || { echo "error: pg_dump (PostgreSQL client tools) is required by the pg_dump round-trip tests" >&2; exit 1; }
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# Test hooks stay out of binaries built for use: a plain build has no fault injection.
cargo build -q -p nest-generator
if grep -q NEST_GENERATOR_FAULT target/debug/nest-generator; then
  echo "error: the nest-generator binary contains the NEST_GENERATOR_FAULT test hook" >&2
  exit 1
fi
# The reliability suite's fast part: schemathesis (three apps, one signed in), sqlmap, load and
# database faults.
scripts/reliability.sh fast
