#!/usr/bin/env bash
# The main job: bring up the local test bed, install certsmith's CRDs with Helm the way users do
# (`--set installCRDs=true`), apply the manifests in examples/, and show what the cluster now
# knows. Idempotent: run it twice, get the same result.
#
#   hack/demo.sh          run the demo (leaves the bed up so you can explore with kubectl)
#   hack/demo.sh clean    remove what the demo created and stop the bed
#
# The operator itself (issuing certificates) arrives with the next milestones; today the demo
# shows the API: the CRDs installed from the chart, the schema validating your manifests, and
# the kubectl views (short names, columns, explain).
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

banner "Done"
cat <<MSG
The bed stays up. Explore with:
  source $ENV_FILE
  kubectl get cert-manager -A          # every certsmith object
  kubectl explain certificate.spec
Clean up with: hack/demo.sh clean
MSG
