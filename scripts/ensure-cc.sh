#!/usr/bin/env bash
# `go test -race` needs cgo, and cgo needs a C compiler: install gcc from
# Debian's packages when it is missing. Quiet no-op when present.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

command -v gcc >/dev/null 2>&1 && exit 0
apt_install ensure-cc gcc libc6-dev
