#!/usr/bin/env bash
# Make sure a Compose implementation can check generated compose.yaml files (`config`): the
# docker CLI's compose plugin when it is there, otherwise docker-compose 1.29 from PyPI in a
# virtualenv under target/ (its PyYAML 5.4 builds only with Cython < 3). Prints the command.
set -uo pipefail
cd "$(dirname "$0")/.."
if docker compose version > /dev/null 2>&1; then echo "docker compose"; exit 0; fi
venv=target/compose-venv
if [ -x "$venv/bin/docker-compose" ]; then echo "$PWD/$venv/bin/docker-compose"; exit 0; fi
echo "no docker compose plugin; installing docker-compose 1.29.2 from PyPI into $venv" >&2
{
  python3 -m venv "$venv" &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cython<3" wheel &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation "pyyaml==5.4.1" &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check "docker-compose==1.29.2"
} >&2
if [ -x "$venv/bin/docker-compose" ]; then echo "$PWD/$venv/bin/docker-compose"; exit 0; fi
echo "error: a Compose implementation (docker compose, or pip's docker-compose) is needed to check compose.yaml" >&2
exit 1
