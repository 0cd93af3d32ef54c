#!/usr/bin/env bash
# The main job: bring up the local test bed, install certsmith's CRDs with Helm the way users do
# (`--set installCRDs=true`), apply the manifests in examples/, and show what the cluster now
# knows. Idempotent: run it twice, get the same result.
#
#   hack/demo.sh          run the demo (leaves the bed up so you can explore with kubectl)
#   hack/demo.sh clean    remove what the demo created and stop the bed
#
# Today the demo shows the API (the CRDs installed from the chart, the schema validating your
# manifests, the kubectl views) and the controller as far as it goes: issuers report whether
# they can sign, and a CertificateRequest is signed by a CA issuer. Certificates becoming
# Secrets arrive with the next milestone.
set -euo pipefail
HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK")
cd "$REPO"
ENV_FILE=${CERTSMITH_TESTENV_DIR:-$REPO/target/testenv}/env

banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

if [[ ${1:-} == clean ]]; then
  if bash "$HACK/testenv.sh" status >/dev/null 2>&1; then
    # shellcheck disable=SC1091
    source "$ENV_FILE"
    for f in examples/*.yaml; do kubectl delete -f "$f" --ignore-not-found --wait=false >/dev/null 2>&1 || true; done
    kubectl delete certificaterequest web-manual -n default --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete secret demo-root-ca -n default --ignore-not-found >/dev/null 2>&1 || true
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
show kubectl get crd -l app.kubernetes.io/part-of=certsmith

banner "4. Apply the examples"
show kubectl apply -f examples/
show kubectl get clusterissuers,issuers -A
show kubectl get certificates -A -o wide

banner "5. The schema rejects mistakes with a message naming the field"
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

banner "6. kubectl explain knows every field"
show kubectl explain certificate.spec.renewBefore

banner "7. Run the controller: issuers say whether they can sign"
mkdir -p target
target/release/certsmith controller --cluster-resource-namespace certsmith >target/demo-controller.log 2>&1 &
controller_pid=$!
trap 'kill $controller_pid 2>/dev/null || true' EXIT
show kubectl wait --for=condition=Ready clusterissuer/selfsigned --timeout=30s
sleep 1
show kubectl get clusterissuer selfsigned -o wide
show kubectl get issuer demo-ca -n default -o wide
echo "(demo-ca waits for the Secret demo-root-ca, which the Certificate demo-root-ca will create"
echo " once the Certificate controllers land; until then we make the CA by hand.)"

banner "8. Sign a CertificateRequest with the CA issuer"
work=$(mktemp -d)
if ! kubectl get secret demo-root-ca -n default >/dev/null 2>&1; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/O=certsmith demo/CN=certsmith demo root CA" -addext basicConstraints=critical,CA:TRUE \
    -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
  show kubectl create secret tls demo-root-ca -n default --cert="$work/ca.crt" --key="$work/ca.key"
fi
show kubectl wait --for=condition=Ready issuer/demo-ca -n default --timeout=30s
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/web.key" \
  -subj "/CN=web.example.test" -addext "subjectAltName=DNS:web.example.test,DNS:www.example.test" \
  -out "$work/web.csr" 2>/dev/null
kubectl delete certificaterequest web-manual -n default --ignore-not-found >/dev/null
cat >"$work/cr.yaml" <<YAML
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {name: web-manual, namespace: default}
spec:
  issuerRef: {name: demo-ca}
  duration: 720h
  usages: [digital signature, key encipherment, server auth]
  request: $(base64 -w0 <"$work/web.csr")
YAML
show kubectl apply -f "$work/cr.yaml"
show kubectl wait --for=condition=Ready certificaterequest/web-manual -n default --timeout=30s
show kubectl get certificaterequest web-manual -n default
kubectl get certificaterequest web-manual -n default -o jsonpath='{.status.certificate}' | base64 -d >"$work/web.crt"
show openssl x509 -in "$work/web.crt" -noout -subject -issuer -dates -ext subjectAltName,keyUsage,extendedKeyUsage
rm -rf "$work"

banner "Done"
cat <<MSG
The bed stays up. Explore with:
  source $ENV_FILE
  kubectl get cert-manager -A          # every certsmith object
  kubectl explain certificate.spec
Clean up with: hack/demo.sh clean
MSG
