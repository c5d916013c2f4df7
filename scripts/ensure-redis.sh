#!/usr/bin/env bash
# Make sure a Redis server answers for the tests (rate limits shared between app instances);
# start a local one if redis-server is installed but nothing listens.
set -uo pipefail
URL=${NEST_TEST_REDIS_URL:-redis://127.0.0.1:6379}
HOSTPORT=${URL#redis://}
HOSTPORT=${HOSTPORT%%/*}
HOST=${HOSTPORT%%:*}
PORT=${HOSTPORT##*:}
ready() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2> /dev/null; }
if ready; then exit 0; fi
echo "Redis does not answer at $URL; trying to start one" >&2
if command -v redis-server > /dev/null 2>&1; then
  redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no >&2 || true
fi
for _ in $(seq 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "error: no Redis at $URL. Install redis-server, or set NEST_TEST_REDIS_URL to one." >&2
exit 1
