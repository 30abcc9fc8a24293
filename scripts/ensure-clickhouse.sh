#!/usr/bin/env bash
# Installs ClickHouse server and client from Debian's packages when they are
# missing, so store/clickhouse tests can start a private server. Quiet and a
# no-op when already installed; safe to run on every `make test`.
set -euo pipefail

if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "ensure-clickhouse: installing clickhouse-server and clickhouse-client" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
