#!/usr/bin/env bash
# Installs ClickHouse server and client from Debian's packages when they are
# missing, so store/clickhouse tests can start a private server. Quiet and a
# no-op when already installed; safe to run on every `make test`.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

{ command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse ]; } && exit 0
apt_install ensure-clickhouse clickhouse-server clickhouse-client
