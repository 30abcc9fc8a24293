#!/usr/bin/env bash
# Makes a real etcd and kube-apiserver available to the Kubernetes tests
# (internal/kubetest, executor/kube, deploy/validate), which fail, never
# skip, without them:
#   - etcd from Debian's etcd-server package when `etcd` is missing;
#   - kube-apiserver built from the wrapper module internal/kubetest/apiserver
#     (k8s.io/kubernetes cannot be `go install`ed: its staging replaces only
#     resolve inside its own repository) into
#     ${FRESHET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/freshet}/kube-apiserver-<version>/,
#     which later runs reuse. Cold, the build takes 12-25 min on 2 cores
#     (~130 MB binary); warm it is a no-op.
# Safe to run on every `make test`; concurrent runs wait on one lock.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt.sh

command -v etcd >/dev/null 2>&1 || apt_install ensure-kube-apiserver --no-install-recommends etcd-server
command -v etcd >/dev/null

mod=internal/kubetest/apiserver
version=$(awk '($1 == "require" && $2 == "k8s.io/kubernetes") {print $3} ($1 == "k8s.io/kubernetes" && $2 ~ /^v/) {print $2}' "$mod/go.mod")
[ -n "$version" ] || { echo "ensure-kube-apiserver: no k8s.io/kubernetes version in $mod/go.mod" >&2; exit 1; }
cache=${FRESHET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/freshet}
dir=$cache/kube-apiserver-$version
bin=$dir/kube-apiserver
[ -x "$bin" ] && exit 0

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
[ -x "$bin" ] && exit 0 # built by a concurrent run while we waited
echo "ensure-kube-apiserver: building kube-apiserver $version into $dir (cold: 12-25 min)" >&2
start=$(date +%s)
# Built to a temporary name and renamed, so an interrupted build leaves no
# half-written binary that a later run would take for a good one.
# The version stamp is what Kubernetes' own build sets (hack/lib/version.sh);
# without it /version says v0.0.0-master.
minor=$(echo "$version" | cut -d. -f2)
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$version -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"
(cd "$mod" && go build -trimpath -ldflags="$ldflags" -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv "$bin.tmp" "$bin"
echo "ensure-kube-apiserver: built in $(( $(date +%s) - start ))s" >&2
