#!/usr/bin/env bash
# Builds (once, cached by version) the upstream programs the test bed runs:
# kube-apiserver + kubectl, etcd, Pebble and helm, all from the Go module proxy.
#
#   hack/tools.sh [all|kube|etcd|pebble|helm]   build what is missing, print the bin dir
#
# Binaries land in $CERTSMITH_CACHE/bin/<name>-<version>; a cached binary costs nothing.
# These are throwaway test tools, never shipped: the checksum database is not reachable
# from here, so it is turned off for these builds alone.
# shellcheck disable=SC2317 # build_* functions are called indirectly, through timed
set -euo pipefail
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env disable=SC1091
source "$HACK/versions.env"
CACHE=${CERTSMITH_CACHE:-$HOME/.cache/certsmith}
BIN=$CACHE/bin
mkdir -p "$BIN"
export GOFLAGS=-mod=mod GONOSUMDB='*' GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
timed() { # label, command...
  local label=$1 t0; shift; t0=$(now_ms); "$@"
  echo "$label ready in $(( ($(now_ms) - t0) / 1000 )) s" >&2
}

# go install into a private GOBIN, then move the binary to its versioned name.
go_install() { # name, package@version, final-name
  local tmp; tmp=$(mktemp -d)
  GOBIN=$tmp go install "$2"
  mv "$tmp/$1" "$BIN/$3"; rm -rf "$tmp"
}

build_kube() {
  local v=$KUBERNETES_VERSION
  [[ -x $BIN/kube-apiserver-$v && -x $BIN/kubectl-$v ]] && return 0
  # k8s.io/kubernetes points its staging modules at ./staging; a wrapper module replaces
  # each with its published v0.<minor>.<patch> so the tag builds from the module proxy.
  local w=$CACHE/src/kubernetes-$v staging=v0.${v#v1.}
  mkdir -p "$w"
  cat >"$w/go.mod" <<MOD
module certsmith.test/kubewrapper

go 1.25.0

require k8s.io/kubernetes $v
MOD
  curl -sSf "$(go env GOPROXY | cut -d, -f1)/k8s.io/kubernetes/@v/$v.mod" \
    | sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' >>"$w/go.mod"
  cat >"$w/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (
    cd "$w"
    go mod tidy >/dev/null 2>&1 || go get k8s.io/kubernetes@"$v"
    local minor ld
    minor=$(echo "$v" | cut -d. -f2)
    ld="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    go build -tags tools -ldflags "$ld" -o "$BIN/kube-apiserver-$v.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    go build -tags tools -ldflags "$ld" -o "$BIN/kubectl-$v.tmp" k8s.io/kubernetes/cmd/kubectl
  )
  mv "$BIN/kube-apiserver-$v.tmp" "$BIN/kube-apiserver-$v"
  mv "$BIN/kubectl-$v.tmp" "$BIN/kubectl-$v"
}

build_etcd() {
  local v=$ETCD_VERSION
  [[ -x $BIN/etcd-$v ]] && return 0
  # `go install go.etcd.io/etcd/server/v3@v` is refused: that go.mod replaces its sibling
  # modules (api, client/pkg, client/v3, pkg) with ../ paths. A wrapper module ignores a
  # dependency's replaces and takes the siblings at the versions server/v3 requires.
  local w=$CACHE/src/etcd-$v
  mkdir -p "$w"
  cat >"$w/go.mod" <<MOD
module certsmith.test/etcdwrapper

go 1.25.0

require go.etcd.io/etcd/server/v3 $v
MOD
  cat >"$w/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  (
    cd "$w"
    go mod tidy >/dev/null 2>&1 || go get go.etcd.io/etcd/server/v3@"$v"
    go build -tags tools -ldflags "-s -w" -o "$BIN/etcd-$v.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$BIN/etcd-$v.tmp" "$BIN/etcd-$v"
}
build_pebble() {
  [[ -x $BIN/pebble-$PEBBLE_VERSION ]] || go_install pebble "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" "pebble-$PEBBLE_VERSION"
}
build_helm() {
  [[ -x $BIN/helm-$HELM_VERSION ]] || go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "helm-$HELM_VERSION"
}

main() {
  local what=${1:-all}
  case $what in
    all) timed etcd build_etcd; timed pebble build_pebble; timed helm build_helm; timed kube build_kube ;;
    kube|etcd|pebble|helm) timed "$what" "build_$what" ;;
    *) echo "usage: $0 [all|kube|etcd|pebble|helm]" >&2; exit 2 ;;
  esac
  echo "$BIN"
}
# One line, parsed before it runs: bash reads a script as it goes, so an edit made during a
# long build could otherwise change (or garble) what runs after it.
main "$@"; exit
