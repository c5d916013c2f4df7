#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, golden, property, CLI and live-database tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-postgres.sh
scripts/ensure-redis.sh
command -v pg_dump > /dev/null || { echo "error: pg_dump (PostgreSQL client tools) is required by the pg_dump round-trip tests" >&2; exit 1; }
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
