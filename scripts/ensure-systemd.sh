#!/usr/bin/env bash
# Installs systemd-analyze (Debian's systemd package) when it is missing, so
# deploy/validate can verify deploy/systemd/freshet.service (TestSystemdUnit
# fails, never skips, without it). Only the tool is used: nothing is
# started. Quiet and a no-op when already installed.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

command -v systemd-analyze >/dev/null 2>&1 && exit 0
apt_install ensure-systemd --no-install-recommends systemd
command -v systemd-analyze >/dev/null
