#!/usr/bin/env bash
# Make sure a NATS server with JetStream answers for the tests (the event store's outbox); start a
# local one if nats-server is installed but nothing listens.
set -uo pipefail
URL=${NEST_TEST_NATS_URL:-nats://127.0.0.1:4222}
HOSTPORT=${URL#nats://}
HOST=${HOSTPORT%%:*}
PORT=${HOSTPORT##*:}
ready() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2> /dev/null; }
if ready; then exit 0; fi
echo "NATS does not answer at $URL; trying to start one" >&2
if command -v nats-server > /dev/null 2>&1; then
  DIR=${TMPDIR:-/tmp}/nest-generator-nats
  mkdir -p "$DIR"
  nohup nats-server -a "$HOST" -p "$PORT" -js -sd "$DIR" > "$DIR/nats.log" 2>&1 &
fi
for _ in $(seq 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "error: no NATS at $URL. Install nats-server (with JetStream), or set NEST_TEST_NATS_URL to one." >&2
exit 1
