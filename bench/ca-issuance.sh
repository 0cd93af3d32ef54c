#!/usr/bin/env bash
# Issues N CA-signed Certificates (ECDSA P-256) at once against the local test bed and prints,
# as JSON lines: the time until all are Ready, and the kube-apiserver writes the controller
# made per issued certificate (from the apiserver's own apiserver_request_total).
#
#   bench/ca-issuance.sh [N=100] [RUNS=1]
#
# Runs the release build of the controller as a separate process, scoped to a fresh namespace.
set -euo pipefail
N=${1:-100}
RUNS=${2:-1}
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")/../hack" && pwd)
REPO=$(dirname "$HACK")
cd "$REPO"
bash "$HACK/testenv.sh" up >/dev/null
# shellcheck disable=SC1091
source "${CERTSMITH_TESTENV_DIR:-$REPO/target/testenv}/env"
cargo build --release --locked --quiet

# apiserver write requests so far, one line per resource/subresource/verb: "<key> <count>".
write_counts() {
  kubectl get --raw /metrics | awk '/^apiserver_request_total\{/ && /verb="(POST|PUT|PATCH|DELETE|APPLY)"/ {
    match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
    match($0, /subresource="[^"]*"/); sr = substr($0, RSTART + 13, RLENGTH - 14)
    match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
    split($0, a, " "); c[r (sr == "" ? "" : "/" sr) " " v] += a[2] }
    END { for (k in c) print k, c[k] }' | sort
}
# Total writes in a write_counts listing.
total() { awk '{ s += $3 } END { printf "%d\n", s }' "$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

for run in $(seq "$RUNS"); do
  ns=bench-$(date +%s)-$run
  kubectl create namespace "$ns" >/dev/null
  target/release/certsmith controller --leader-elect=false --namespace "$ns" --log-level warn >"target/bench-controller-$ns.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  # A CA: self-signed root Certificate -> CA Issuer.
  kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: root}
spec: {isCA: true, commonName: bench root, secretName: root-ca, privateKey: {algorithm: ECDSA}, issuerRef: {name: selfsigned}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca}
spec: {ca: {secretName: root-ca}}
YAML
  kubectl wait -n "$ns" --for=condition=Ready issuer/ca --timeout=60s >/dev/null
  manifest=$(mktemp)
  for i in $(seq "$N"); do
    printf -- '---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c%d}\nspec: {secretName: c%d-tls, dnsNames: [c%d.example.test], privateKey: {algorithm: ECDSA, size: 256}, issuerRef: {name: ca}}\n' "$i" "$i" "$i"
  done >"$manifest"
  before_file=$(mktemp)
  write_counts >"$before_file"
  before=$(total "$before_file")
  t0=$(now_ms)
  kubectl apply -n "$ns" -f "$manifest" >/dev/null
  while :; do
    ready=$(kubectl get certificates -n "$ns" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$' || true)
    # the root counts too
    ((ready >= N + 1)) && break
    (($(now_ms) - t0 < 600000)) || { echo "timeout: $ready of $((N + 1)) Ready" >&2; exit 1; }
    sleep 0.2
  done
  elapsed=$(($(now_ms) - t0))
  sleep 2 # let trailing clean-up writes land before counting
  after_file=$(mktemp)
  write_counts >"$after_file"
  after=$(total "$after_file")
  # Where the writes went (per issued certificate), for whoever wants to cut them down.
  join -a2 -e0 -o '0,1.2,2.2' <(awk '{print $1"|"$2, $3}' "$before_file") <(awk '{print $1"|"$2, $3}' "$after_file") |
    awk -v n="$N" '$3 - $2 > 0 { printf "  %-40s %6.2f per certificate\n", $1, ($3 - $2) / n }' >&2
  rm -f "$before_file" "$after_file"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  controller_writes=$((after - before - N)) # minus the N creates of the Certificates themselves
  printf '{"name":"ca_issuance_time","certificates":%d,"value":%d,"unit":"ms","run":%d}\n' "$N" "$elapsed" "$run"
  printf '{"name":"ca_issuance_rate","certificates":%d,"value":%s,"unit":"certificates/s","run":%d}\n' "$N" "$(awk -v n="$N" -v ms="$elapsed" 'BEGIN{printf "%.1f", n*1000/ms}')" "$run"
  printf '{"name":"apiserver_writes_per_certificate","value":%s,"unit":"writes","run":%d}\n' "$(awk -v w="$controller_writes" -v n="$N" 'BEGIN{printf "%.1f", w/n}')" "$run"
  rm -f "$manifest"
done
