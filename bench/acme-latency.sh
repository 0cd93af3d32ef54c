#!/usr/bin/env bash
# Time from apply to Ready of single-name ACME Certificates against the local Pebble, one at a
# time, over http-01 and over dns-01 (RFC 2136 to BIND), and the ACME requests each issuance
# made (from the controller's per-request debug lines). Prints JSON lines: one per run and a
# median per solver.
#
#   bench/acme-latency.sh [RUNS=5]
#
# Runs the release build of the controller as a separate process, scoped to a fresh namespace,
# with the self-checks pointed at the bed (BIND, and Pebble's http-01 port).
set -euo pipefail
RUNS=${1:-5}
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")/../hack" && pwd)
REPO=$(dirname "$HACK")
cd "$REPO"
bash "$HACK/testenv.sh" up >/dev/null
# shellcheck disable=SC1091
source "${CERTSMITH_TESTENV_DIR:-$REPO/target/testenv}/env"
cargo build --release --locked --quiet

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

ns=bench-acme-$(date +%s)
kubectl create namespace "$ns" >/dev/null
log=target/bench-controller-$ns.log
RUST_LOG=certsmith::acme::request=debug,warn target/release/certsmith controller --leader-elect=false --namespace "$ns" \
  --dns01-recursive-nameservers "$RFC2136_NAMESERVER" --dns01-recursive-nameservers-only \
  --acme-http01-self-check-port "$HTTP01_PORT" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
kubectl create secret generic tsig -n "$ns" --from-literal=secret="$RFC2136_TSIG_SECRET" >/dev/null
kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: pebble}
spec:
  acme:
    server: $ACME_DIRECTORY_URL
    caBundle: $(base64 -w0 <"$ACME_SERVER_CA_FILE")
    privateKeySecretRef: {name: pebble-account}
    solvers:
      - http01: {ingress: {}}
      - selector: {dnsZones: [dns.example.test]}
        dns01:
          rfc2136:
            nameserver: $RFC2136_NAMESERVER
            tsigKeyName: $RFC2136_TSIG_KEY
            tsigAlgorithm: HMACSHA256
            tsigSecretSecretRef: {name: tsig, key: secret}
YAML
kubectl wait -n "$ns" --for=condition=Ready issuer/pebble --timeout=60s >/dev/null

for solver in http01 dns01; do
  times=()
  for run in $(seq "$RUNS"); do
    name=$solver-$run
    host=$name-$(date +%s%N | tail -c 7).example.test
    [[ $solver == dns01 ]] && host=$name-$(date +%s%N | tail -c 7).dns.example.test
    requests_before=$(grep -c 'ACME request' "$log" || true)
    t0=$(now_ms)
    kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: $name}
spec: {secretName: $name-tls, dnsNames: [$host], issuerRef: {name: pebble}}
YAML
    kubectl wait -n "$ns" --for=condition=Ready "certificate/$name" --timeout=120s >/dev/null
    elapsed=$(($(now_ms) - t0))
    sleep 1 # the challenge clean-up finishes; it makes no ACME request
    requests=$(($(grep -c 'ACME request' "$log" || true) - requests_before))
    times+=("$elapsed")
    printf '{"name":"acme_apply_to_ready","solver":"%s","run":%d,"value":%d,"unit":"ms","acme_requests":%d}\n' "$solver" "$run" "$elapsed" "$requests"
  done
  printf '{"name":"acme_apply_to_ready_median","solver":"%s","runs":%d,"value":%s,"unit":"ms"}\n' "$solver" "$RUNS" "$(printf '%s\n' "${times[@]}" | median)"
done
kubectl delete namespace "$ns" --wait=false >/dev/null
