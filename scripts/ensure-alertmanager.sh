#!/usr/bin/env bash
# Installs Debian's prometheus-alertmanager when missing, so the alert
# receiver tests can start a private Alertmanager (alerts/receiver
# TestAlertmanagerRealServer fails, never skips, without it). Quiet and a
# no-op when already installed; safe to run on every `make test`. Only the
# binary is used: the packaged service is not started.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

{ command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; } && exit 0
apt_install ensure-alertmanager prometheus-alertmanager
# policy-rc.d may refuse to start the packaged service in containers; only
# the binary is used.
command -v prometheus-alertmanager >/dev/null
