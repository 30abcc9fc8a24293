#!/usr/bin/env bash
# The web UI's tests (ui/): dependencies from package-lock.json (npm ci,
# cached by the lock's hash in ~/.cache/freshet), the type check, Vitest,
# the Vite build, bin/freshet built with the UI embedded, and the
# end-to-end tests in headless Chromium (Debian's chromium driven by
# playwright-core) against a real `freshet dev`. Fails, never skips, when
# node, npm or Chromium is missing. Screenshots: ui/e2e/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "ui-test: Chromium not found at $chromium: run scripts/ensure-chromium.sh (Debian package chromium) or set CHROMIUM" >&2; exit 1; }

echo "== ui: dependencies"
./ui/npm-ci.sh
cd ui
echo "== ui: type check"
npx tsc --noEmit
echo "== ui: vitest"
npx vitest run
echo "== ui: build"
npx vite build --logLevel warn
cd ..
echo "== ui: bin/freshet with the UI embedded"
go build -o bin/freshet ./cmd/freshet
echo "== ui: end to end in Chromium"
cd ui
CHROMIUM="$chromium" FRESHET_BIN=../bin/freshet node --test --test-reporter=spec e2e/
echo "== ui: all passed in $(( $(date +%s) - start ))s"
