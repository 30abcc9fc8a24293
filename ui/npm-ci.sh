#!/usr/bin/env bash
# Installs ui/node_modules exactly as package-lock.json says (npm ci), once
# per lock: the result is kept in ~/.cache/freshet/ui-node_modules/HASH
# (HASH of the lock and the Node.js major version) and copied back (hard
# links where the disk allows) when node_modules is missing or stale, so a
# fresh clone pays for one npm ci and later ones for a copy. Fails with a
# hint when node or npm is missing or too old.
set -euo pipefail
cd "$(dirname "$0")"

hint="install Node.js 20.19 or newer with npm (the UI's build needs them; Go builds and tests do not)"
command -v node >/dev/null 2>&1 || { echo "ui: node not found: $hint" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "ui: npm not found: $hint" >&2; exit 1; }
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  { echo "ui: node $(node --version) is too old: $hint" >&2; exit 1; }

stamp="$( (cat package-lock.json; node -p 'process.versions.node.split(".")[0]') | sha256sum | cut -c1-16)"
[ -f node_modules/.freshet-lock ] && [ "$(cat node_modules/.freshet-lock)" = "$stamp" ] && exit 0

cache="${XDG_CACHE_HOME:-$HOME/.cache}/freshet/ui-node_modules"
if [ -f "$cache/$stamp/.freshet-lock" ]; then
  rm -rf node_modules
  cp -al "$cache/$stamp" node_modules 2>/dev/null || { rm -rf node_modules; cp -a "$cache/$stamp" node_modules; }
  printf 'module freshet.invalid/ui-node-modules\n' > node_modules/go.mod # see below
  echo "ui: node_modules from the cache ($stamp)" >&2
  exit 0
fi

echo "ui: npm ci (package-lock.json changed or first run)" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$stamp" > node_modules/.freshet-lock
# a go.mod makes node_modules a module of its own: `go vet ./...` and
# `go test ./...` never wander into a package's stray .go files
printf 'module freshet.invalid/ui-node-modules\n' > node_modules/go.mod
mkdir -p "$cache"
rm -rf "$cache/$stamp.tmp"
cp -al node_modules "$cache/$stamp.tmp" 2>/dev/null || { rm -rf "$cache/$stamp.tmp"; cp -a node_modules "$cache/$stamp.tmp"; }
mv "$cache/$stamp.tmp" "$cache/$stamp"
# keep the two newest locks' trees
ls -1dt "$cache"/*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
