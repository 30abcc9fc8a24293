#!/usr/bin/env bash
# Installs ZooKeeper (Debian's zookeeper package, with OpenJDK) when it is
# missing, so internal/chtest can start a replicated ClickHouse cluster:
# it runs /usr/share/java/zookeeper.jar with java, standalone, on a private
# config. The package starts no service (zookeeperd would). Quiet and a
# no-op when already installed; safe to run on every `make test`.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

{ command -v java >/dev/null 2>&1 && [ -f /usr/share/java/zookeeper.jar ]; } && exit 0
apt_install ensure-zookeeper --no-install-recommends zookeeper
