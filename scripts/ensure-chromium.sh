#!/usr/bin/env bash
# Installs Debian's chromium when it is missing, so the UI's end-to-end
# tests (scripts/ui-test.sh, ui/e2e) can drive a real headless browser
# through playwright-core. Playwright's own browser download needs the
# internet, which CI does not have: the tests use /usr/bin/chromium
# (override with CHROMIUM=path). Quiet and a no-op when already installed.
set -euo pipefail
. "$(dirname "$0")/lib/apt.sh"

command -v chromium >/dev/null 2>&1 && exit 0
apt_install ensure-chromium --no-install-recommends chromium fonts-dejavu-core
command -v chromium >/dev/null
