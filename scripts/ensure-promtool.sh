#!/usr/bin/env bash
# Installs promtool (Debian's prometheus package) when it is missing, so
# `make test` can check and unit-test deploy/prometheus/freshet-rules.yml.
# Quiet and a no-op when already installed.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

command -v promtool >/dev/null 2>&1 && exit 0
apt_install ensure-promtool --no-install-recommends prometheus
