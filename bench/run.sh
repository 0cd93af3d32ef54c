#!/usr/bin/env bash
# certsmith's benchmarks (issue 8), one command:
#
#   bench/run.sh [--runs 3] [--scale 1.0] [--idle-seconds 60] [--no-reset] [--no-chart]
#                [throughput|acme|renewal|startup|memory ...]
#
# Builds the release controller and the bench runner (bench/harness), brings up the bench's OWN
# test bed (hack/testenv.sh with state in target/benchenv and every port shifted by 1000, so it
# never meets the bed the tests use), resets it to an empty cluster, runs each scenario --runs
# times with a fresh controller process per run, prints one JSON line per figure (median, min,
# max over the runs, target, pass), and writes bench/results/<UTC timestamp>.json,
# bench/results/latest.md and bench/results/latest.png. Progress and the profiles (writes by
# resource, CPU by process) go to stderr. Not part of hack/test.sh. See bench/README.md.
#
# --scale multiplies every object count (e.g. 0.1: 100 Certificates instead of 1,000, 5,000
# Secrets instead of 50,000): for developing the harness; the targets hold at scale 1.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

chart=1
args=()
while (($#)); do
  case $1 in
    --no-chart) chart= ;;
    -h | --help)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) args+=("$1") ;;
  esac
  shift
done

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((10#$t / 1000)); }
say() { printf 'bench: %s\n' "$*" >&2; }

# The bench's bed: its own state directory and ports (hack/testenv.sh's defaults + 1000).
shift_by=${BENCH_PORT_SHIFT:-1000}
export CERTSMITH_TESTENV_DIR=${BENCH_TESTENV_DIR:-$REPO/target/benchenv}
export CERTSMITH_DNS_PORT=$((25353 + shift_by))
export CERTSMITH_ACME_PORT=$((24000 + shift_by)) CERTSMITH_ACME_MGMT_PORT=$((24001 + shift_by))
export CERTSMITH_ACME_STRICT_PORT=$((24002 + shift_by)) CERTSMITH_ACME_STRICT_MGMT_PORT=$((24003 + shift_by))
export CERTSMITH_ETCD_PORT=$((22379 + shift_by)) CERTSMITH_ETCD_PEER_PORT=$((22380 + shift_by))
export CERTSMITH_APISERVER_PORT=$((26443 + shift_by))
export HTTP01_PORT=$((5002 + shift_by)) HTTP01_DEAD_PORT=$((5009 + shift_by)) TLSALPN01_PORT=$((5001 + shift_by))
unset CERTSMITH_SOLVER_BIN PEBBLE_WFE_NONCEREJECT PEBBLE_AUTHZREUSE PEBBLE_VA_SLEEPTIME PEBBLE_WFE_ORDERS_PER_PAGE \
  PEBBLE_CHAIN_LENGTH PEBBLE_ALTERNATE_ROOTS

target=${CARGO_TARGET_DIR:-$REPO/target}
[[ $target == /* ]] || target=$REPO/$target
t0=$(now_ms)
say "building the release controller and the bench runner (cargo build --release; minutes the first time)"
cargo build --release --locked -p certsmith -p certsmith-bench >&2
say "built in $(($(now_ms) - t0)) ms"

t0=$(now_ms)
mkdir -p "$CERTSMITH_TESTENV_DIR"
if ! bash hack/testenv.sh up >"$CERTSMITH_TESTENV_DIR/bench-up.log" 2>&1; then
  tail -n 30 "$CERTSMITH_TESTENV_DIR/bench-up.log" >&2
  say "the bench bed did not come up (log: $CERTSMITH_TESTENV_DIR/bench-up.log)"
  exit 1
fi
say "bench bed up in $(($(now_ms) - t0)) ms ($CERTSMITH_TESTENV_DIR, kube-apiserver on :$CERTSMITH_APISERVER_PORT)"
# shellcheck disable=SC1091
source "$CERTSMITH_TESTENV_DIR/env"

work=$target/bench
rm -f "$work/latest-curves-path"
"$target/release/certsmith-bench" --controller "$target/release/certsmith" --repo "$REPO" \
  --work-dir "$work" --results-dir "$REPO/bench/results" "${args[@]}"

[[ -n $chart && -s $work/latest-curves-path ]] || exit 0
# The chart: matplotlib in a virtualenv of its own, made once and kept in the cache.
venv=${CERTSMITH_CACHE:-$HOME/.cache/certsmith}/bench-venv
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  say "installing matplotlib into $venv (once)"
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet 'matplotlib>=3.8,<4'; } >&2; then
    say "could not install matplotlib: no chart (the figures above are complete)"
    exit 0
  fi
fi
if "$venv/bin/python" bench/chart.py "$(<"$work/latest-curves-path")" bench/results/latest.png; then
  say "wrote $REPO/bench/results/latest.png"
else
  say "drawing the chart failed (the figures above are complete)"
fi
