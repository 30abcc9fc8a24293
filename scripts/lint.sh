#!/usr/bin/env bash
# gofmt, go vet and staticcheck; staticcheck is installed through the Go
# module proxy when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
STATICCHECK="$(go env GOPATH)/bin/staticcheck"
if [ ! -x "$STATICCHECK" ]; then
  echo "installing staticcheck..." >&2
  go install honnef.co/go/tools/cmd/staticcheck@2026.1 2>/dev/null || go install honnef.co/go/tools/cmd/staticcheck@latest
fi
"$STATICCHECK" ./...
