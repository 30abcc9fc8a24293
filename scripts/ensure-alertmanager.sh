#!/usr/bin/env bash
# Installs Debian's prometheus-alertmanager when missing, so the alert
# receiver tests can start a private Alertmanager (alerts/receiver
# TestAlertmanagerRealServer fails, never skips, without it). Quiet and a
# no-op when already installed; safe to run on every `make test`. Only the
# binary is used: the packaged service is not started.
set -euo pipefail

if command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "ensure-alertmanager: installing prometheus-alertmanager" >&2
$sudo apt-get update -qq
# policy-rc.d may refuse to start the service in containers; that is fine.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null
command -v prometheus-alertmanager >/dev/null
