#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one:
#   formatting and lints, unit tests, and integration tests against the real test bed
#   (kube-apiserver + etcd, Pebble, BIND9, helm) that hack/testenv.sh brings up.
#
#   hack/test.sh                  everything
#   hack/test.sh -- <cargo args>  pass extra arguments to `cargo test` (e.g. a test name)
#
# The bed is left running if it was already up; otherwise it is stopped at the end
# (set CERTSMITH_KEEP_TESTENV=1 to keep it).
set -euo pipefail
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK")
cd "$REPO"
[[ ${1:-} == -- ]] && shift

now() { date +%s; }
t0=$(now)
step() { printf '\n==> %s (%ss)\n' "$*" "$(($(now) - t0))"; }

step "checking the Rust toolchain"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
cargo --version
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true

step "starting the test bed (hack/testenv.sh up)"
started_bed=0
if ! bash "$HACK/testenv.sh" status >/dev/null 2>&1; then started_bed=1; fi
bash "$HACK/testenv.sh" up
if [[ $started_bed == 1 && ${CERTSMITH_KEEP_TESTENV:-0} != 1 ]]; then
  trap 'bash "$HACK/testenv.sh" down >/dev/null 2>&1 || true' EXIT
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit and integration)"
cargo test --workspace --all-targets --locked "$@"

step "done"
