#!/usr/bin/env bash
# `go test -race` needs cgo, and cgo needs a C compiler: install gcc from
# Debian's packages when it is missing. Quiet no-op when present.
set -euo pipefail
command -v gcc >/dev/null 2>&1 && exit 0
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "ensure-cc: installing gcc (go test -race needs cgo)" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
