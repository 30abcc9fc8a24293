#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls `make test`).
# On a fresh Debian machine with Go it installs what the tests need
# (ClickHouse server, ZooKeeper, etcd and promtool from Debian's packages, and
# kube-apiserver built once into ~/.cache/freshet) first; tests that need a
# component fail, never skip, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
for dep in scripts/ensure-*.sh; do
  [ "$dep" = scripts/ensure-kube-apiserver.sh ] && continue # below, in the background
  [ -x "$dep" ] && "$dep"
done
# kube-apiserver takes 12-25 min to build cold on 2 cores (a no-op once
# cached): it builds while the stages that do not need it run, and the
# stages that do (Kubernetes, leader election, durability, deploy/) wait.
kube_log=$(mktemp)
setsid ./scripts/ensure-kube-apiserver.sh >"$kube_log" 2>&1 &
kube_pid=$!
# A failed stage ends the script: the build (its own process group) ends too.
trap 'kill -- -"$kube_pid" 2>/dev/null || true' EXIT
wait_kube() {
  if ! wait "$kube_pid"; then
    cat "$kube_log" >&2
    echo "scripts/ensure-kube-apiserver.sh failed (output above)" >&2
    exit 1
  fi
  cat "$kube_log"
}
echo "== lint"
./scripts/lint.sh
echo "== go test -race"
go test -race -timeout 20m -skip '^TestReplicated' $(go list ./... | grep -v -e /internal/e2e -e /internal/kubetest -e /executor/kube -e /leader)
echo "== replicated ClickHouse: ZooKeeper + 2 replicas, conformance in cluster mode, a frozen replica under load"
# Its own stage, with -v, so the figures (start-up, catch-up) are printed.
# The tests wait on ON CLUSTER DDL, not the CPU: more of them at once.
go test -race -count=1 -v -parallel 8 -timeout 15m -run '^TestReplicated' ./internal/chtest/ ./store/clickhouse/ |
  grep -E '^(--- |ok|FAIL|PASS|panic)|cluster:|frozen replica:|replay of|catch-up:|failover:|rows stored|Error|error|_test\.go:[0-9]+:'
echo "== web UI: typecheck, unit tests (Vitest), build, end to end in headless Chromium"
./scripts/ui-test.sh
echo "== Prometheus rules (deploy/prometheus): promtool check and unit tests"
command -v promtool >/dev/null || { echo "promtool missing: run scripts/ensure-promtool.sh (Debian package prometheus)" >&2; exit 1; }
promtool check rules deploy/prometheus/freshet-rules.yml
promtool test rules deploy/prometheus/freshet-rules.test.yml
echo "== current ClickHouse (chDB) runs every statement the store issues"
./scripts/chdb-check.sh
echo "== fuzz"
FUZZTIME="${FUZZTIME:-10s}" ./scripts/fuzz.sh
echo "== waiting for kube-apiserver (scripts/ensure-kube-apiserver.sh)"
wait_kube
echo "== Kubernetes: etcd + kube-apiserver (internal/kubetest), the Job launcher against it (executor/kube), leader election (ZooKeeper, Lease)"
# Its own stage, with -v, so the figures (control plane start-up, launch
# overhead per step against bare client-go, failover) are printed.
go test -race -count=1 -v -timeout 15m ./internal/kubetest/ ./executor/kube/ ./leader/ |
  grep -E '^(--- |ok|FAIL|PASS|panic)|kube-apiserver v|launch overhead|failover|lease:|Error|error|_test\.go:[0-9]+:'
echo "== durability: three servers and a killed leader, kill -9 under load (embedded, ClickHouse, replicated cluster), ClickHouse outage under load"
go test -race -count=1 -v -timeout 20m ./internal/e2e/ |
  grep -E '^(--- |ok|FAIL|PASS|panic)|counts:|kill -9|cluster:|replica 2|down|drained|failover|replicas:|Error|error|_test\.go:[0-9]+:'
echo "== deploy/: Helm chart, compose stack, Dockerfile, systemd unit, Grafana dashboard (deploy/validate, a module of its own)"
(cd deploy/validate && gofmt -l . | { ! grep .; } && go vet ./... && "$(go env GOPATH)/bin/staticcheck" ./... && go test -count=1 -timeout 15m ./...)
echo "== all tests passed in $(( $(date +%s) - start ))s"
