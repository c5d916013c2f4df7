#!/usr/bin/env bash
# Make sure an S3-compatible server can be started for the file-storage tests: moto's server mode
# (PyPI: moto[server]); the tests start their own instance on a free port.
set -uo pipefail
if command -v moto_server > /dev/null 2>&1; then exit 0; fi
echo "moto_server is not installed; installing moto[server] from PyPI" >&2
python3 -m pip install --quiet --disable-pip-version-check "moto[server]==5.2.1" >&2 || true
if command -v moto_server > /dev/null 2>&1; then exit 0; fi
echo "error: moto_server (pip install 'moto[server]') is needed by the file-storage tests (an S3-compatible server)." >&2
exit 1
