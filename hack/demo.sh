#!/usr/bin/env bash
# The main job: bring up the local test bed, install certsmith's CRDs with Helm the way users do
# (`--set installCRDs=true`), apply the manifests in examples/, and show what the cluster now
# knows. Idempotent: run it twice, get the same result.
#
#   hack/demo.sh          run the demo (leaves the bed up so you can explore with kubectl)
#   hack/demo.sh clean    remove what the demo created and stop the bed
#
# It runs the controller against the local bed: a self-signed root CA Certificate, a CA Issuer
# using it, and a server Certificate become kubernetes.io/tls Secrets; then two ACME
# certificates from the local Pebble, one over http-01 (a solver Pod the bed runs, an Ingress it
# routes) and a wildcard over dns-01 (a TXT record in BIND through RFC 2136); then it shows the
# an Ingress annotated cert-manager.io/cluster-issuer getting its Secret through the Ingress shim;
# then the schema rejecting a bad manifest and kubectl explain.
set -euo pipefail
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK")
cd "$REPO"
ENV_FILE=${CERTSMITH_TESTENV_DIR:-$REPO/target/testenv}/env

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

# wait_ready NS TIMEOUT_S CERT...: one progress line, updated in place, until every Certificate
# is Ready; on timeout, `certsmith status` says why for the ones that are not.
wait_ready() {
  local ns=$1 timeout=$2; shift 2
  local start=$SECONDS ready line c
  while :; do
    ready=0 line=
    for c in "$@"; do
      if [[ $(kubectl get certificate "$c" -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; then
        ready=$((ready + 1)); line+=" $c:ready"
      else
        line+=" $c:..."
      fi
    done
    printf '\r  %d/%d Ready after %3ds:%s ' "$ready" "$#" $((SECONDS - start)) "$line"
    (( ready == $# )) && { printf '\n'; return 0; }
    if (( SECONDS - start >= timeout )); then
      printf '\n'
      for c in "$@"; do target/release/certsmith status certificate "$c" -n "$ns" || true; done
      return 1
    fi
    sleep 0.5
  done
}

if [[ ${1:-} == clean ]]; then
  if bash "$HACK/testenv.sh" status >/dev/null 2>&1; then
    # shellcheck disable=SC1091
    source "$ENV_FILE"
    for f in examples/*.yaml; do kubectl delete -f "$f" --ignore-not-found --wait=false >/dev/null 2>&1 || true; done
    kubectl delete certificaterequest web-manual -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete secret demo-root-ca web-tls -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete certificate web-acme wild-acme -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete secret web-acme-tls wild-acme-tls -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete ingress shop -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete certificate shop-tls -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete secret shop-tls -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete clusterissuer pebble-http01 pebble-dns01 --ignore-not-found >/dev/null 2>&1 || true
    helm uninstall certsmith -n certsmith >/dev/null 2>&1 || true
  fi
  bash "$HACK/testenv.sh" down
  exit 0
fi

banner "1. The local test bed: kube-apiserver + etcd, Pebble (ACME), BIND9 (DNS)"
bash "$HACK/testenv.sh" up
# shellcheck disable=SC1091
source "$ENV_FILE"
show kubectl version

banner "2. Build certsmith"
cargo build --release --locked --quiet
show target/release/certsmith version

banner "3. Install the chart with its CRDs, as a user does"
# CRDs applied earlier without Helm (by the tests, or by a cert-manager install from static
# manifests) are adopted into the release, as Helm documents: label and annotate them.
for crd in $(kubectl get crd -o name | grep -E 'cert-manager\.io$' || true); do
  if [[ -z $(kubectl get "$crd" -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}') ]]; then
    printf 'adopting %s into the Helm release\n' "$crd"
    kubectl label "$crd" app.kubernetes.io/managed-by=Helm --overwrite >/dev/null
    kubectl annotate "$crd" meta.helm.sh/release-name=certsmith meta.helm.sh/release-namespace=certsmith --overwrite >/dev/null
  fi
done
show helm upgrade --install certsmith charts/certsmith -n certsmith --create-namespace --set installCRDs=true --wait=false
show kubectl wait --for=condition=Established crd -l app.kubernetes.io/part-of=certsmith --timeout=60s
show kubectl get crd -l app.kubernetes.io/part-of=certsmith

banner "4. Run the controller as the chart's ServiceAccount (the bed has no kubelet to run its Pod)"
mkdir -p target
# A kubeconfig holding only a token of the chart's ServiceAccount: the controller gets exactly
# the chart's RBAC, as its Pod would.
sa_kubeconfig=target/demo-sa.kubeconfig
cp "$KUBECONFIG" "$sa_kubeconfig" && chmod 600 "$sa_kubeconfig"
token=$(kubectl create token certsmith -n certsmith --duration=24h)
kubectl --kubeconfig "$sa_kubeconfig" config set-credentials certsmith-sa --token="$token" >/dev/null
kubectl --kubeconfig "$sa_kubeconfig" config set-context --current --user=certsmith-sa >/dev/null
unset token
# The bed's DNS (BIND) answers for *.example.test and Pebble validates http-01 on $HTTP01_PORT:
# point the self-checks there, as a real cluster's would go to its resolvers and port 80.
# Leader election is on, as in the chart: the Lease certsmith-controller in kube-system.
KUBECONFIG=$sa_kubeconfig target/release/certsmith controller --cluster-resource-namespace certsmith \
  --metrics-listen-address 127.0.0.1:9402 --healthz-listen-address 127.0.0.1:9403 \
  --dns01-recursive-nameservers "$RFC2136_NAMESERVER" --dns01-recursive-nameservers-only \
  --acme-http01-self-check-port "$HTTP01_PORT" >target/demo-controller.log 2>&1 &
controller_pid=$!
trap 'kill $controller_pid 2>/dev/null || true' EXIT
echo "certsmith controller running (pid $controller_pid, log target/demo-controller.log)"
# It reconciles once it holds the Lease: at once normally (the previous run's controller
# released it on exit), up to the 60 s lease duration if that one was killed with SIGKILL.
for _ in $(seq 1 150); do
  if curl -sf http://127.0.0.1:9403/readyz 2>/dev/null | grep -q '^ok: leader'; then break; fi
  sleep 0.5
done
show curl -s http://127.0.0.1:9403/readyz
show target/release/certsmith check api

banner "5. Apply the examples: a self-signed ClusterIssuer, a root CA Certificate, a CA Issuer, a server Certificate"
show kubectl apply -f examples/
wait_ready default 60 demo-root-ca web
show kubectl get clusterissuers
show kubectl get issuers -n default
show kubectl get certificates,certificaterequests -n default -o wide

banner "6. The Secret web-tls: a real certificate, signed by the demo CA, renewed before it expires"
work=$(mktemp -d)
kubectl get secret web-tls -n default -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/tls.crt"
kubectl get secret web-tls -n default -o jsonpath='{.data.ca\.crt}' | base64 -d >"$work/ca.crt"
show openssl x509 -in "$work/tls.crt" -noout -subject -issuer -dates -ext subjectAltName
show openssl verify -CAfile "$work/ca.crt" "$work/tls.crt"
printf 'renewal scheduled at: %s\n' "$(kubectl get certificate web -n default -o jsonpath='{.status.renewalTime}')"

banner "7. ACME from the local Pebble: http-01 and a dns-01 wildcard"
# Pebble makes a new CA at every start: certificates left by an earlier run of the demo would
# not verify against today's root. Deleting their Secrets has them issued again (a deleted
# Secret is one of the re-issuance triggers).
kubectl delete secret web-acme-tls wild-acme-tls shop-tls -n default --ignore-not-found >/dev/null
kubectl create secret generic pebble-tsig -n certsmith --from-literal=secret="$RFC2136_TSIG_SECRET" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
ca_bundle=$(base64 -w0 <"$ACME_SERVER_CA_FILE")
cat <<YAML | tee "$work.issuers.yaml" | sed 's/^/  /'
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: pebble-http01}
spec:
  acme:
    server: $ACME_DIRECTORY_URL
    email: demo@example.test
    caBundle: <the bed's CA, base64>
    privateKeySecretRef: {name: pebble-http01-account}
    solvers:
      - http01: {ingress: {ingressClassName: bed}}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: pebble-dns01}
spec:
  acme:
    server: $ACME_DIRECTORY_URL
    email: demo@example.test
    caBundle: <the bed's CA, base64>
    privateKeySecretRef: {name: pebble-dns01-account}
    solvers:
      - dns01:
          rfc2136:
            nameserver: $RFC2136_NAMESERVER
            tsigKeyName: $RFC2136_TSIG_KEY
            tsigAlgorithm: HMACSHA256
            tsigSecretSecretRef: {name: pebble-tsig, key: secret}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web-acme, namespace: default}
spec:
  secretName: web-acme-tls
  dnsNames: [demo-web.example.test]
  issuerRef: {name: pebble-http01, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: wild-acme, namespace: default}
spec:
  secretName: wild-acme-tls
  dnsNames: ["*.demo.example.test", demo.example.test]
  issuerRef: {name: pebble-dns01, kind: ClusterIssuer}
YAML
sed "s|caBundle: <the bed's CA, base64>|caBundle: $ca_bundle|" "$work.issuers.yaml" | kubectl apply -f -
rm -f "$work.issuers.yaml"
started=$(date +%s%N)
wait_ready default 120 web-acme wild-acme
printf 'both Ready %s ms after apply\n' "$(( ($(date +%s%N) - started) / 1000000 ))"
show kubectl get clusterissuers pebble-http01 pebble-dns01 -o wide
show kubectl get orders -n default -o wide
for name in web-acme wild-acme; do
  kubectl get secret "$name-tls" -n default -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/$name.crt"
  show openssl x509 -in "$work/$name.crt" -noout -subject -issuer -dates -ext subjectAltName
  show openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$work/$name.crt" "$work/$name.crt"
done
echo "Challenges, solver Pods and TXT records are gone once the orders are valid:"
show kubectl get challenges,pods,ingresses -n default
echo "(examples/clusterissuer-letsencrypt-staging.yaml points at the real Let's Encrypt, which this"
echo " machine cannot reach: its Ready condition says so instead of failing silently.)"
show kubectl get clusterissuer letsencrypt-staging -o wide

banner "8. An annotated Ingress gets its certificate (the Ingress shim)"
shop_ingress=$(cat <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
  annotations:
    cert-manager.io/cluster-issuer: pebble-http01
spec:
  ingressClassName: bed
  tls: [{hosts: [shop.example.test], secretName: shop-tls}]
  rules:
    - host: shop.example.test
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}]}
YAML
)
printf '%s\n' "$shop_ingress" | sed 's/^/  /'
printf '%s\n' "$shop_ingress" | kubectl apply -f -
wait_ready default 120 shop-tls
show kubectl get certificate shop-tls -n default -o wide
kubectl get secret shop-tls -n default -o jsonpath='{.data.tls\.crt}' | base64 -d >"$work/shop.crt"
show openssl x509 -in "$work/shop.crt" -noout -subject -issuer -ext subjectAltName
show openssl verify -CAfile "$PEBBLE_ROOT_PEM" -untrusted "$work/shop.crt" "$work/shop.crt"
show kubectl get events -n default --field-selector involvedObject.kind=Ingress,involvedObject.name=shop
rm -rf "$work"

banner "9. The schema rejects mistakes with a message naming the field"
bad=$(mktemp)
cat >"$bad" <<'YAML'
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: oops, namespace: default}
spec:
  secretName: oops-tls
  dnsNames: [oops.example.test]
  duration: 90d          # Go durations have no days
  renewBefore: 24h
  renewBeforePercentage: 10
  issuerRef: {name: demo-ca}
YAML
printf '$ kubectl apply -f - <<EOF ... duration: 90d, renewBefore + renewBeforePercentage ... EOF\n'
kubectl apply -f "$bad" 2>&1 | sed 's/^/  /' || true
rm -f "$bad"

banner "10. kubectl explain knows every field"
show kubectl explain certificate.spec.renewBefore

banner "11. certsmith status: the whole chain of each certificate in one screen"
for c in demo-root-ca web web-acme wild-acme shop-tls; do
  show target/release/certsmith status certificate "$c" -n default
done
show target/release/certsmith inspect secret web-tls -n default

banner "Done"
cat <<MSG
The bed stays up. Explore with:
  source $ENV_FILE
  kubectl get cert-manager -A          # every certsmith object
  kubectl explain certificate.spec
  target/release/certsmith status certificate web -n default    # why is it (not) Ready
Next: docs/getting-started.md, docs/troubleshooting.md.
Clean up with: hack/demo.sh clean
MSG
