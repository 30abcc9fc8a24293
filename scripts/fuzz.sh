#!/usr/bin/env bash
# Runs every fuzz target briefly; a crash fails the run and leaves its input
# in testdata/fuzz/ for a regression test.
#
# Go 1.26's fuzz coordinator can end a -fuzztime run with a bare "context
# deadline exceeded" and no failing input (go.dev/issue/75804, fixed in Go
# 1.27), more often on a loaded machine: a target that fails without
# writing an input is run once more, and fails the run if it does again.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10s}"
inputs() { { find "$1/testdata/fuzz/$2" -type f 2>/dev/null || true; } | sort; }
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    for attempt in 1 2; do
      echo "fuzz $pkg $target ($FUZZTIME)"
      before=$(inputs "$dir" "$target")
      if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg"; then
        break
      fi
      if [ "$(inputs "$dir" "$target")" != "$before" ] || [ "$attempt" = 2 ]; then
        echo "fuzz: $target failed (a failing input, if any, is in $dir/testdata/fuzz/$target)" >&2
        exit 1
      fi
      echo "fuzz: $target failed without a failing input (go.dev/issue/75804): once more" >&2
    done
  done
done
