#!/usr/bin/env bash
# Installs promtool (Debian's prometheus package) when it is missing, so
# `make test` can check and unit-test deploy/prometheus/freshet-rules.yml.
# Quiet and a no-op when already installed.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "ensure-promtool: installing prometheus (for promtool)" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
