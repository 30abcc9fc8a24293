#!/usr/bin/env bash
# Runs the store's SQL against current ClickHouse, embedded as chDB (the
# Debian server the other tests use is 18.16). Fetches libchdb.so from the
# npm package @chdb/lib-linux-x64-gnu (166 MB download, 560 MB unpacked)
# into a cache on first use; chdb-go finds it through CHDB_LIB_PATH.
# `make test` runs it after the main suite; the download is cached, so
# only a machine's first run pays for it.
#   scripts/chdb-check.sh            # fetch if needed, run the test
#   CHDB_VERSION=26.5.3 scripts/chdb-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version="${CHDB_VERSION:-26.5.3}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/freshet/chdb/$version"
lib="$cache/package/libchdb.so"
if [ ! -f "$lib" ]; then
  echo "chdb-check: fetching @chdb/lib-linux-x64-gnu@$version into $cache" >&2
  mkdir -p "$cache"
  tgz="$cache/chdb.tgz"
  url="https://registry.npmjs.org/@chdb/lib-linux-x64-gnu/-/lib-linux-x64-gnu-$version.tgz"
  if command -v npm >/dev/null 2>&1; then
    name=$(cd "$cache" && npm pack --silent "@chdb/lib-linux-x64-gnu@$version")
    mv "$cache/$name" "$tgz"
  else
    # A fresh machine may have neither npm nor curl: curl is the smaller install.
    if ! command -v curl >/dev/null 2>&1; then
      sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
      $sudo apt-get update -qq
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl ca-certificates >/dev/null
    fi
    curl -fsSL -o "$tgz" "$url"
  fi
  tar -xzf "$tgz" -C "$cache"
  rm -f "$tgz"
fi
CHDB_LIB_PATH="$lib" go test -tags chdb -count=1 -run 'ChDB' -v ./store/clickhouse/ "$@"
