#!/usr/bin/env bash
# The project's test bed: real components on 127.0.0.1, started and stopped by this script.
#
#   hack/testenv.sh up       install/build what is missing, start what is not running, write $STATE/env
#   hack/testenv.sh down     stop the processes this script started (caches, PKI and data stay)
#   hack/testenv.sh reset    down, then forget the cluster's data (etcd): a fresh, empty cluster
#                            at the next `up` (the bed has no namespace controller, so test
#                            namespaces and their objects otherwise pile up on a long-lived bed)
#   hack/testenv.sh status   which parts are up (exit 0 when all are, 3 otherwise)
#   hack/testenv.sh env      print $STATE/env (use: `. target/testenv/env`)
#   hack/testenv.sh gateway-api   apply only the Gateway API CRDs (part of `up`) to a running bed
#
# Parts: BIND9 (authoritative for $CERTSMITH_DNS_ZONE, TSIG dynamic updates, wildcard A to
# 127.0.0.1), Pebble (ACME, validating against that BIND), a second, strict Pebble (`pebble-strict`:
# External Account Binding required, 40 % of nonces rejected, one alternate chain, http-01 validated
# on a dead port so such challenges end invalid), etcd and
# kube-apiserver (+ kubectl and helm), and the solver host (`solver-host`, hack/solver-host: the
# kubelet + ingress controller stand-in that runs the real `certsmith acmesolver` for each HTTP-01
# solver Pod and routes $HTTP01_PORT to it by Ingress; built with cargo). Go tools are built and
# cached by hack/tools.sh; Debian packages come from apt-get.
# `up` is idempotent: a healthy part is left alone, a dead or unhealthy one is restarted, and a part
# whose command line or configuration changed is restarted. Every process logs to $STATE/logs/.
#
# Ports (all on 127.0.0.1; override with these variables):
#   CERTSMITH_DNS_PORT=25353  CERTSMITH_ACME_PORT=24000  CERTSMITH_ACME_MGMT_PORT=24001
#   CERTSMITH_ACME_STRICT_PORT=24002  CERTSMITH_ACME_STRICT_MGMT_PORT=24003 (pebble-strict)
#   CERTSMITH_ETCD_PORT=22379 (peer: CERTSMITH_ETCD_PEER_PORT=22380)  CERTSMITH_APISERVER_PORT=26443
#   HTTP01_PORT=5002, TLSALPN01_PORT=5001: where Pebble validates http-01 / tls-alpn-01 (http-01 is
#   served by solver-host; CERTSMITH_SOLVER_BIN, if set, is the certsmith binary it runs)
# Pebble knobs passed through (defaults: deterministic): PEBBLE_WFE_NONCEREJECT=0, PEBBLE_AUTHZREUSE=0,
#   PEBBLE_VA_SLEEPTIME, PEBBLE_WFE_ORDERS_PER_PAGE, PEBBLE_CHAIN_LENGTH, PEBBLE_ALTERNATE_ROOTS.
#   PEBBLE_VA_NOSLEEP=1 always; PEBBLE_VA_ALWAYS_VALID is always removed (challenges are really validated).
#   pebble-strict ignores these knobs: its settings are fixed (see up_pebble_strict).
# shellcheck disable=SC2317 # health_* functions are called indirectly, through ensure
set -euo pipefail
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

HACK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HACK")
# shellcheck source=versions.env disable=SC1091
source "$HACK/versions.env"

STATE=${CERTSMITH_TESTENV_DIR:-$REPO/target/testenv}
CACHE=${CERTSMITH_CACHE:-$HOME/.cache/certsmith}
DNS_PORT=${CERTSMITH_DNS_PORT:-25353}
ACME_PORT=${CERTSMITH_ACME_PORT:-24000}
ACME_MGMT_PORT=${CERTSMITH_ACME_MGMT_PORT:-24001}
ACME_STRICT_PORT=${CERTSMITH_ACME_STRICT_PORT:-24002}
ACME_STRICT_MGMT_PORT=${CERTSMITH_ACME_STRICT_MGMT_PORT:-24003}
ETCD_PORT=${CERTSMITH_ETCD_PORT:-22379}
ETCD_PEER_PORT=${CERTSMITH_ETCD_PEER_PORT:-22380}
APISERVER_PORT=${CERTSMITH_APISERVER_PORT:-26443}
HTTP01_PORT=${HTTP01_PORT:-5002}
# pebble-strict validates http-01 on a port nothing listens on: there an http-01 challenge that
# passes the self-check still fails at the ACME server (a firewalled cluster), ending invalid.
HTTP01_DEAD_PORT=${HTTP01_DEAD_PORT:-5009}
TLSALPN01_PORT=${TLSALPN01_PORT:-5001}
ZONE=${CERTSMITH_DNS_ZONE:-example.test}
TSIG_NAME=certsmith-testenv
EAB_KEY_ID=certsmith-eab
EAB2_KEY_ID=certsmith-eab-64
PARTS=(named pebble pebble-strict etcd kube-apiserver solver-host)

PKI=$STATE/pki
LOGS=$STATE/logs
RUN=$STATE/run

# ---------------------------------------------------------------------------------------- helpers
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((10#$t / 1000)); }
since() { echo $(($(now_ms) - $1)); }
say() { printf '%s\n' "$*"; }
die() { printf 'testenv: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
tail_log() { # file: its last lines, indented, on stderr
  [[ -s $1 ]] || { printf '  (log %s is empty)\n' "$1" >&2; return 0; }
  printf '  --- last lines of %s ---\n' "$1" >&2
  tail -n "${2:-40}" "$1" | sed 's/^/  | /' >&2
}

# A live (non-zombie) process?
alive() {
  local s
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  [[ ${s%% *} != [ZX] ]]
}
# Any live process left in process group $1?
group_alive() {
  local f s st pgrp
  for f in /proc/[0-9]*/stat; do
    { read -r s <"$f"; } 2>/dev/null || continue
    s=${s##*) }
    read -r st _ pgrp _ <<<"$s"
    [[ $pgrp == "$1" && $st != [ZX] ]] && return 0
  done
  return 1
}
# Prints the pid of part $1 if the process this script recorded is still running.
# Guards against pid reuse: the process's argv[0] must be the binary that was started.
pid_of() {
  local pid exe argv0=
  [[ -r $RUN/$1.pid ]] || return 1
  read -r pid exe <"$RUN/$1.pid" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  { IFS= read -r -d '' argv0 <"/proc/$pid/cmdline"; } 2>/dev/null || true
  [[ $argv0 == "$exe" ]] || return 1
  echo "$pid"
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# launch NAME CMD...: start CMD in its own session (process group = its pid), stdin from /dev/null,
# stdout+stderr to $LOGS/NAME.log. The wrapper shell records its own pid and then execs CMD, so
# the recorded pid is the program itself whether or not setsid had to fork.
launch() {
  local name=$1 log=$LOGS/$1.log pidf=$RUN/$1.pid pid="" i
  shift
  [[ ! -e $log ]] || mv -f "$log" "$log.1"
  rm -f "$pidf" "$pidf.new"
  # shellcheck disable=SC2016 # $$ and $0 belong to the inner shell
  setsid bash -c 'echo "$$" >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidf.new" "$@" \
    </dev/null >"$log" 2>&1 9>&- &
  for ((i = 0; i < 200; i++)); do
    [[ -s $pidf.new ]] && read -r pid <"$pidf.new" && [[ $pid =~ ^[0-9]+$ ]] && break
    sleep 0.02
  done
  [[ $pid =~ ^[0-9]+$ ]] || { tail_log "$log"; die "$name: could not start"; }
  rm -f "$pidf.new"
  # argv[0] of the program: the first absolute path (after an `env -u X Y=z` prefix)
  local exe
  for exe in "$@"; do [[ $exe != /* ]] || break; done
  echo "$pid $exe" >"$pidf"
}

# stop_part NAME: TERM its process group, wait, KILL if needed, verify it is gone.
stop_part() {
  local name=$1 pid t0 i
  t0=$(now_ms)
  if ! pid=$(pid_of "$name"); then
    rm -f "$RUN/$name.pid" "$RUN/$name.spec"
    return 1
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do # 15 s
    alive "$pid" || group_alive "$pid" || break
    sleep 0.05
  done
  if alive "$pid" || group_alive "$pid"; then
    say "$name (pid $pid) did not stop on TERM within 15 s; sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || group_alive "$pid" || break
      sleep 0.05
    done
    if alive "$pid" || group_alive "$pid"; then die "$name (pid $pid) is still running after KILL"; fi
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name.spec"
  say "stopped $name (pid $pid) in $(since "$t0") ms"
}

# ensure NAME TIMEOUT_S HEALTH_FN SPEC_EXTRA PORT... -- CMD...
# Leaves a healthy, unchanged part alone; otherwise (re)starts it and waits until HEALTH_FN passes.
ensure() {
  local name=$1 timeout=$2 health=$3 extra=$4 t0 pid spec old="" i reason="" port
  shift 4
  local ports=()
  while [[ $1 != -- ]]; do ports+=("$1"); shift; done
  shift
  t0=$(now_ms)
  spec="$(printf '%q ' "$@")| $extra"
  [[ ! -r $RUN/$name.spec ]] || old=$(<"$RUN/$name.spec")
  if pid=$(pid_of "$name"); then
    if [[ $old == "$spec" ]]; then
      # running with the same configuration: give it a grace period (it may be reconnecting)
      for ((i = 0; i < 100; i++)); do
        if "$health"; then
          say "$name already up (pid $pid, checked in $(since "$t0") ms)"
          return 0
        fi
        alive "$pid" || break
        sleep 0.1
      done
      reason="pid $pid running but not healthy"
    else
      reason="configuration changed"
    fi
    say "$name: $reason; restarting"
    stop_part "$name" >/dev/null || true
  elif [[ -e $RUN/$name.pid ]]; then
    say "$name: recorded process is gone; starting it again"
  fi
  for port in "${ports[@]}"; do
    ! port_busy "$port" || die "$name: port $port on 127.0.0.1 is already used by a process this script did not start (see the port variables at the top of $0)"
  done
  launch "$name" "$@"
  printf '%s' "$spec" >"$RUN/$name.spec"
  read -r pid _ <"$RUN/$name.pid"
  until "$health"; do
    if ! alive "$pid"; then
      say "testenv: $name exited during start" >&2
      tail_log "$LOGS/$name.log"
      rm -f "$RUN/$name.pid" "$RUN/$name.spec"
      exit 1
    fi
    if (($(since "$t0") > timeout * 1000)); then
      say "testenv: $name not ready after ${timeout} s" >&2
      tail_log "$LOGS/$name.log"
      stop_part "$name" >/dev/null || true
      exit 1
    fi
    sleep 0.05
  done
  say "$name ready in $(since "$t0") ms (pid $pid)"
}

# ------------------------------------------------------------------------------- install & build
install_packages() {
  local t0 need=() policy_made=
  t0=$(now_ms)
  have named || need+=(bind9)
  have tsig-keygen || need+=(bind9-utils)
  { have dig && have nsupdate; } || need+=(bind9-dnsutils)
  have openssl || need+=(openssl)
  have curl || need+=(curl)
  have setsid || need+=(util-linux)
  have unzip || need+=(unzip)
  if ((${#need[@]} == 0)); then
    say "packages present in $(since "$t0") ms"
    return 0
  fi
  say "installing Debian packages: ${need[*]} (log: $LOGS/apt.log)"
  local sudo=()
  if ((EUID != 0)); then
    have sudo || die "need root (or sudo) to install: apt-get install ${need[*]}"
    sudo=(sudo)
  fi
  # Keep the distribution's own named service from being started by the package's postinst.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    policy_made=1
  fi
  local rc=0
  {
    "${sudo[@]}" apt-get update -q &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  } >"$LOGS/apt.log" 2>&1 || rc=$?
  [[ -z $policy_made ]] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  if ((rc != 0)); then
    tail_log "$LOGS/apt.log"
    die "apt-get install ${need[*]} failed (exit $rc)"
  fi
  say "packages installed in $(since "$t0") ms"
}

BIN=
build_tools() {
  local tool t0 out files f cached label note
  have go || die "Go is needed to build the test tools (hack/tools.sh)"
  for tool in etcd pebble helm kube; do
    t0=$(now_ms)
    case $tool in
      etcd) files=("etcd-$ETCD_VERSION"); label="etcd $ETCD_VERSION" ;;
      pebble) files=("pebble-$PEBBLE_VERSION"); label="pebble $PEBBLE_VERSION" ;;
      helm) files=("helm-$HELM_VERSION"); label="helm $HELM_VERSION" ;;
      kube)
        files=("kube-apiserver-$KUBERNETES_VERSION" "kubectl-$KUBERNETES_VERSION")
        label="kube-apiserver+kubectl $KUBERNETES_VERSION"
        ;;
    esac
    cached=1
    for f in "${files[@]}"; do [[ -x $CACHE/bin/$f ]] || cached=; done
    if [[ -z $cached ]]; then
      note=
      [[ $tool != kube ]] || note=" (a cold build takes many minutes)"
      say "building $label$note; log: $LOGS/build-$tool.log"
    fi
    if ! out=$(bash "$HACK/tools.sh" "$tool" 2>"$LOGS/build-$tool.log"); then
      tail_log "$LOGS/build-$tool.log"
      die "building $tool failed"
    fi
    BIN=${out##*$'\n'}
    if [[ -n $cached ]]; then say "$label cached, checked in $(since "$t0") ms"; else say "$label built in $(since "$t0") ms"; fi
  done
  [[ -d $BIN ]] || die "hack/tools.sh printed no bin dir"
  mkdir -p "$STATE/bin"
  ln -sfn "$BIN/kubectl-$KUBERNETES_VERSION" "$STATE/bin/kubectl"
  ln -sfn "$BIN/helm-$HELM_VERSION" "$STATE/bin/helm"
}

# ------------------------------------------------------------------------------------------ PKI
# One test CA signs Pebble's HTTPS listener, kube-apiserver's serving cert and the admin client
# cert. Made once; kept across down/up (delete $STATE/pki to renew).
leaf() { # name, subject, extensions
  local n=$1
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$n.key" 2>/dev/null
  openssl req -new -key "$PKI/$n.key" -subj "$2" -out "$PKI/$n.csr" 2>/dev/null
  printf '%s\n' "$3" >"$PKI/$n.ext"
  openssl x509 -req -in "$PKI/$n.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$PKI/$n.ext" -out "$PKI/$n.crt" 2>/dev/null
  rm -f "$PKI/$n.csr"
}
make_pki() {
  local t0 made=
  t0=$(now_ms)
  mkdir -p "$PKI"
  if [[ ! -s $PKI/ca.pem || ! -s $PKI/ca.key ]]; then
    rm -f "$PKI"/*.crt
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" 2>/dev/null
    cat >"$PKI/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = certsmith testenv CA
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
    openssl req -x509 -new -key "$PKI/ca.key" -config "$PKI/ca.cnf" -extensions ca_ext -days 3650 -out "$PKI/ca.pem" 2>/dev/null
    made=1
  fi
  local server='basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
authorityKeyIdentifier=keyid'
  [[ -s $PKI/pebble.crt ]] || { leaf pebble "/CN=localhost" "$server
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"; made=1; }
  [[ -s $PKI/apiserver.crt ]] || { leaf apiserver "/CN=kube-apiserver" "$server
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1"; made=1; }
  [[ -s $PKI/admin.crt ]] || { leaf admin "/O=system:masters/CN=certsmith-admin" 'basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid'; made=1; }
  # The aggregation layer's client cert: kube-apiserver proxies /apis/<group>/... of an
  # APIService (a DNS-01 webhook solver) with it.
  [[ -s $PKI/front-proxy.crt ]] || { leaf front-proxy "/CN=front-proxy-client" 'basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid'; made=1; }
  if [[ ! -s $PKI/sa.key ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    made=1
  fi
  chmod 600 "$PKI"/*.key
  if [[ -n $made ]]; then say "PKI made in $(since "$t0") ms"; else say "PKI present"; fi
}
sum() { cksum "$@" | awk '{printf "%s ", $1}'; }

# ----------------------------------------------------------------------------------------- parts
# Health checks capture the output first: `cmd | grep -q` can fail under pipefail (SIGPIPE).
health_named() {
  local out
  out=$(dig +short +time=1 +tries=1 -p "$DNS_PORT" @127.0.0.1 SOA "$ZONE" 2>/dev/null) || return 1
  [[ $out == "ns1.$ZONE. "* ]]
}
up_named() {
  local d=$STATE/bind named
  named=$(command -v named) || die "named not found"
  mkdir -p "$d"
  [[ -s $d/tsig.key ]] || tsig-keygen -a hmac-sha256 "$TSIG_NAME" >"$d/tsig.key"
  if [[ ! -s $d/$ZONE.zone ]]; then
    rm -f "$d/$ZONE.zone.jnl"
    cat >"$d/$ZONE.zone" <<EOF
\$TTL 60
@   IN SOA ns1.$ZONE. hostmaster.$ZONE. ( 1 60 60 3600 5 )
    IN NS  ns1.$ZONE.
ns1 IN A   127.0.0.1
@   IN A   127.0.0.1
*   IN A   127.0.0.1
EOF
  fi
  cat >"$d/named.conf" <<EOF
include "$d/tsig.key";
options {
  directory "$d";
  pid-file none;
  session-keyfile "$d/session.key";
  managed-keys-directory "$d";
  listen-on port $DNS_PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-query { any; };
  allow-transfer { none; };
};
controls { };
zone "$ZONE" {
  type primary;
  file "$ZONE.zone";
  allow-update { key "$TSIG_NAME"; };
};
EOF
  named-checkconf "$d/named.conf" >"$LOGS/named-checkconf.log" 2>&1 || { tail_log "$LOGS/named-checkconf.log"; die "named.conf is invalid"; }
  ensure named 20 health_named "$(sum "$d/named.conf" "$d/tsig.key")" "$DNS_PORT" -- \
    "$named" -g -c "$d/named.conf"
}

health_pebble() {
  local out
  out=$(curl -sf --max-time 2 --cacert "$PKI/ca.pem" "https://127.0.0.1:$ACME_PORT/dir" 2>/dev/null) || return 1
  [[ $out == *newOrder* ]]
}
up_pebble() {
  local d=$STATE/pebble
  mkdir -p "$d"
  cat >"$d/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$ACME_MGMT_PORT",
    "certificate": "$PKI/pebble.crt",
    "privateKey": "$PKI/pebble.key",
    "httpPort": $HTTP01_PORT,
    "tlsPort": $TLSALPN01_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false,
    "domainBlocklist": ["blocked.$ZONE"],
    "retryAfter": { "authz": 1, "order": 1 },
    "keyAlgorithm": "ecdsa",
    "profiles": {
      "default": { "description": "The default profile", "validityPeriod": 7776000 },
      "shortlived": { "description": "A short-lived profile", "validityPeriod": 518400 }
    }
  }
}
EOF
  local penv=(PEBBLE_VA_NOSLEEP=1 "PEBBLE_WFE_NONCEREJECT=${PEBBLE_WFE_NONCEREJECT:-0}" "PEBBLE_AUTHZREUSE=${PEBBLE_AUTHZREUSE:-0}")
  local v
  for v in PEBBLE_VA_SLEEPTIME PEBBLE_WFE_ORDERS_PER_PAGE PEBBLE_CHAIN_LENGTH PEBBLE_ALTERNATE_ROOTS; do
    [[ -z ${!v:-} ]] || penv+=("$v=${!v}")
  done
  ensure pebble 30 health_pebble "$(sum "$d/pebble.json" "$PKI/pebble.crt")" "$ACME_PORT" "$ACME_MGMT_PORT" -- \
    env -u PEBBLE_VA_ALWAYS_VALID "${penv[@]}" "$BIN/pebble-$PEBBLE_VERSION" \
    -config "$d/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT"
  # The issuing root (and intermediate) change on every Pebble start: fetch them every time.
  local mgmt=https://127.0.0.1:$ACME_MGMT_PORT
  if ! curl -sf --max-time 5 --cacert "$PKI/ca.pem" "$mgmt/roots/0" >"$d/root.pem.tmp" ||
    ! curl -sf --max-time 5 --cacert "$PKI/ca.pem" "$mgmt/intermediates/0" >"$d/intermediate.pem.tmp" ||
    ! grep -q 'BEGIN CERTIFICATE' "$d/root.pem.tmp"; then
    die "could not fetch Pebble's roots from $mgmt"
  fi
  mv "$d/root.pem.tmp" "$d/root.pem"
  mv "$d/intermediate.pem.tmp" "$d/intermediate.pem"
}

# A second Pebble for the ACME client's fault and policy tests: External Account Binding required
# (two keys: 32 bytes, and 64 bytes for HS384/HS512, which Pebble's go-jose refuses with shorter
# keys), 40 % of good nonces rejected (badNonce), one alternate chain (preferredChain). Same listener
# cert and DNS server as the first; Pebble validates outbound, so the http-01/tls-alpn-01 ports
# can be the same too. Its settings are fixed, whatever PEBBLE_* knobs the caller exported.
health_pebble_strict() {
  local out
  out=$(curl -sf --max-time 2 --cacert "$PKI/ca.pem" "https://127.0.0.1:$ACME_STRICT_PORT/dir" 2>/dev/null) || return 1
  [[ $out == *newOrder* && $out == *'"externalAccountRequired": true'* ]]
}
up_pebble_strict() {
  local d=$STATE/pebble-strict
  mkdir -p "$d"
  # The EAB HMAC keys (base64url, as Pebble and cert-manager's Secrets hold them), made once.
  local f bytes
  for f in eab-hmac:32 eab2-hmac:64; do
    bytes=${f#*:} f=$d/${f%:*}.key
    if [[ ! -s $f ]]; then
      (umask 077 && openssl rand "$bytes" | base64 -w0 | tr '+/' '-_' | tr -d '=\n' >"$f.tmp")
      mv "$f.tmp" "$f"
    fi
  done
  local hmac hmac2
  hmac=$(<"$d/eab-hmac.key")
  hmac2=$(<"$d/eab2-hmac.key")
  (umask 077 && cat >"$d/pebble.json") <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_STRICT_PORT",
    "managementListenAddress": "127.0.0.1:$ACME_STRICT_MGMT_PORT",
    "certificate": "$PKI/pebble.crt",
    "privateKey": "$PKI/pebble.key",
    "httpPort": $HTTP01_DEAD_PORT,
    "tlsPort": $TLSALPN01_PORT,
    "ocspResponderURL": "",
    "externalAccountBindingRequired": true,
    "externalAccountMACKeys": { "$EAB_KEY_ID": "$hmac", "$EAB2_KEY_ID": "$hmac2" },
    "domainBlocklist": ["blocked.$ZONE"],
    "retryAfter": { "authz": 1, "order": 1 },
    "keyAlgorithm": "ecdsa",
    "profiles": {
      "default": { "description": "The default profile", "validityPeriod": 7776000 },
      "shortlived": { "description": "A short-lived profile", "validityPeriod": 518400 }
    }
  }
}
EOF
  ensure pebble-strict 30 health_pebble_strict "$(sum "$d/pebble.json" "$PKI/pebble.crt")" "$ACME_STRICT_PORT" "$ACME_STRICT_MGMT_PORT" -- \
    env -u PEBBLE_VA_ALWAYS_VALID -u PEBBLE_VA_SLEEPTIME -u PEBBLE_WFE_ORDERS_PER_PAGE -u PEBBLE_CHAIN_LENGTH \
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=40 PEBBLE_AUTHZREUSE=0 PEBBLE_ALTERNATE_ROOTS=1 \
    "$BIN/pebble-$PEBBLE_VERSION" -config "$d/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT"
  # Roots change on every start, as for the first Pebble: fetch the default and the alternate.
  local mgmt=https://127.0.0.1:$ACME_STRICT_MGMT_PORT i
  for i in 0 1; do
    if ! curl -sf --max-time 5 --cacert "$PKI/ca.pem" "$mgmt/roots/$i" >"$d/root-$i.pem.tmp" ||
      ! grep -q 'BEGIN CERTIFICATE' "$d/root-$i.pem.tmp"; then
      die "could not fetch pebble-strict's root $i from $mgmt"
    fi
  done
  mv "$d/root-0.pem.tmp" "$d/root.pem"
  mv "$d/root-1.pem.tmp" "$d/root-alternate.pem"
}

health_etcd() {
  local out
  out=$(curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null) || return 1
  [[ $out == *'"health":"true"'* ]]
}
up_etcd() {
  local peer=http://127.0.0.1:$ETCD_PEER_PORT client=http://127.0.0.1:$ETCD_PORT
  ensure etcd 60 health_etcd "" "$ETCD_PORT" "$ETCD_PEER_PORT" -- \
    "$BIN/etcd-$ETCD_VERSION" --name certsmith --data-dir "$STATE/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "certsmith=$peer" --initial-cluster-state new \
    --unsafe-no-fsync
}

health_apiserver() {
  local out
  out=$(curl -sf --max-time 3 --cacert "$PKI/ca.pem" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" 2>/dev/null) || return 1
  [[ $out == ok ]]
}
up_apiserver() {
  mkdir -p "$STATE/kube-apiserver"
  ensure kube-apiserver 240 health_apiserver "$(sum "$PKI/ca.pem" "$PKI/apiserver.crt" "$PKI/sa.pub" "$PKI/front-proxy.crt")" "$APISERVER_PORT" -- \
    "$BIN/kube-apiserver-$KUBERNETES_VERSION" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --cert-dir="$STATE/kube-apiserver" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --authorization-mode=RBAC \
    --client-ca-file="$PKI/ca.pem" \
    --service-account-issuer="https://127.0.0.1:$APISERVER_PORT" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount \
    --requestheader-client-ca-file="$PKI/ca.pem" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy.crt" --proxy-client-key-file="$PKI/front-proxy.key" \
    --enable-aggregator-routing=true
}

health_solver_host() {
  local out
  out=$(curl -sf --max-time 2 "http://127.0.0.1:$HTTP01_PORT/healthz" 2>/dev/null) || return 1
  [[ $out == ok* ]]
}
# The solver host is test tooling in this workspace: built with cargo (debug, the tests' target
# dir, so dependencies are shared); restarted when its binary changes. It runs the newer of
# target/{release,debug}/certsmith, looked up at each solver Pod start.
up_solver_host() {
  local t0 bin log=$LOGS/build-solver-host.log
  t0=$(now_ms)
  have cargo || die "cargo is needed to build the solver host (hack/solver-host)"
  if ! (cd "$REPO" && cargo build -p certsmith-solver-host --locked) >"$log" 2>&1; then
    tail_log "$log"
    die "building the solver host failed (log: $log)"
  fi
  say "solver host built in $(since "$t0") ms"
  bin=${CARGO_TARGET_DIR:-$REPO/target}/debug/certsmith-solver-host
  [[ $bin == /* ]] || bin=$REPO/$bin
  ensure solver-host 30 health_solver_host "$(sum "$bin") ${CERTSMITH_SOLVER_BIN:-}" "$HTTP01_PORT" -- \
    "$bin" --listen "127.0.0.1:$HTTP01_PORT" --kubeconfig "$STATE/kubeconfig" --repo "$REPO"
}

write_kubeconfig() {
  local k=$STATE/kubeconfig
  b64() { base64 -w0 <"$1"; }
  cat >"$k.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: certsmith-testenv
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.pem")
users:
- name: certsmith-admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: certsmith-testenv
  context:
    cluster: certsmith-testenv
    user: certsmith-admin
current-context: certsmith-testenv
EOF
  chmod 600 "$k.tmp"
  mv "$k.tmp" "$k"
}

verify_kube() {
  local t0 kubectl=$BIN/kubectl-$KUBERNETES_VERSION out server ns
  t0=$(now_ms)
  out=$("$kubectl" --kubeconfig "$STATE/kubeconfig" version 2>&1) || { say "$out" >&2; die "kubectl version failed"; }
  server=$(sed -n 's/^Server Version: //p' <<<"$out")
  [[ -n $server ]] || { say "$out" >&2; die "kubectl version printed no server version"; }
  ns=$("$kubectl" --kubeconfig "$STATE/kubeconfig" get ns -o name 2>&1) || { say "$ns" >&2; die "kubectl get ns failed"; }
  grep -qx namespace/default <<<"$ns" || { say "$ns" >&2; die "kubectl get ns: no default namespace"; }
  say "kube-apiserver $server: kubectl version and get ns ($(wc -l <<<"$ns") namespaces) ok in $(since "$t0") ms"
}

# Gateway API standard-channel CRDs (and their safe-upgrades ValidatingAdmissionPolicy), from the
# sigs.k8s.io/gateway-api Go module at $GATEWAY_API_VERSION: downloaded once through the module
# proxy (the conventions of hack/tools.sh), kept in $CACHE/gateway-api-<version>/, and applied
# with server-side apply only when the cluster's HTTPRoute CRD is not at that version already
# (a reset bed gets them again; a running one is not touched).
GATEWAY_CRDS=
fetch_gateway_api() {
  local t0 v=$GATEWAY_API_VERSION d json zip
  t0=$(now_ms)
  d=$CACHE/gateway-api-$v
  if ! compgen -G "$d/*.yaml" >/dev/null; then
    # `go mod download` also reports an error when the module asks for a newer Go than the
    # one here (v1.7 asks for 1.27); the zip is downloaded and checked all the same, and only
    # its YAML is used, so the error is ignored when the zip is there.
    json=$(cd "$CACHE" && GOFLAGS=-mod=mod GONOSUMDB='*' GOSUMDB=off GOTOOLCHAIN=local \
      go mod download -json "sigs.k8s.io/gateway-api@$v" 2>"$LOGS/gateway-api.log") || true
    zip=$(sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
    [[ -n $zip && -s $zip ]] || { printf '%s\n' "$json" >>"$LOGS/gateway-api.log"; tail_log "$LOGS/gateway-api.log"; die "could not download sigs.k8s.io/gateway-api@$v"; }
    rm -rf "$d.tmp" && mkdir -p "$d.tmp"
    unzip -q -j -o "$zip" "sigs.k8s.io/gateway-api@$v/config/crd/standard/*.yaml" -d "$d.tmp" ||
      die "sigs.k8s.io/gateway-api@$v: no config/crd/standard/*.yaml in $zip"
    rm -rf "$d" && mv "$d.tmp" "$d"
    say "Gateway API $v CRDs downloaded in $(since "$t0") ms"
  fi
  GATEWAY_CRDS=$d
}
apply_gateway_api() {
  local t0 v=$GATEWAY_API_VERSION kubectl=$BIN/kubectl-$KUBERNETES_VERSION have_v crds
  t0=$(now_ms)
  fetch_gateway_api
  local k=("$kubectl" --kubeconfig "$STATE/kubeconfig")
  have_v=$("${k[@]}" get crd httproutes.gateway.networking.k8s.io \
    -o jsonpath='{.metadata.annotations.gateway\.networking\.k8s\.io/bundle-version}' 2>/dev/null) || true
  if [[ $have_v == "$v" ]]; then
    say "Gateway API $v CRDs already installed (checked in $(since "$t0") ms)"
    return 0
  fi
  "${k[@]}" apply --server-side --force-conflicts --field-manager=certsmith-testenv -f "$GATEWAY_CRDS" \
    >"$LOGS/gateway-api-apply.log" 2>&1 || { tail_log "$LOGS/gateway-api-apply.log"; die "applying the Gateway API $v CRDs failed"; }
  crds=$(sed -n 's#^crd/\(.*\)#crd/\1#p; s#^customresourcedefinition.apiextensions.k8s.io/\([^ ]*\).*#crd/\1#p' \
    "$LOGS/gateway-api-apply.log")
  # shellcheck disable=SC2086 # one word per CRD
  "${k[@]}" wait --for=condition=Established --timeout=60s $crds >>"$LOGS/gateway-api-apply.log" 2>&1 ||
    { tail_log "$LOGS/gateway-api-apply.log"; die "the Gateway API $v CRDs did not become Established"; }
  say "Gateway API $v CRDs (standard channel) applied in $(since "$t0") ms"
}

write_env() {
  local f=$STATE/env secret
  secret=$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$STATE/bind/tsig.key")
  kv() { printf 'export %s=%q\n' "$1" "$2"; }
  {
    echo "# certsmith test bed, written by hack/testenv.sh up at $(date -u +%FT%TZ). Source it: . $f"
    kv CERTSMITH_TESTENV_DIR "$STATE"
    # shellcheck disable=SC2016 # $PATH is expanded when the file is sourced
    printf 'export PATH=%q:"$PATH"\n' "$STATE/bin"
    kv KUBECONFIG "$STATE/kubeconfig"
    kv KUBE_APISERVER_URL "https://127.0.0.1:$APISERVER_PORT"
    kv KUBERNETES_VERSION "$KUBERNETES_VERSION"
    kv KUBECTL "$BIN/kubectl-$KUBERNETES_VERSION"
    kv HELM "$BIN/helm-$HELM_VERSION"
    kv TESTENV_CA_FILE "$PKI/ca.pem"
    kv ACME_DIRECTORY_URL "https://127.0.0.1:$ACME_PORT/dir"
    kv ACME_SERVER_CA_FILE "$PKI/ca.pem"
    kv PEBBLE_MGMT_URL "https://127.0.0.1:$ACME_MGMT_PORT"
    kv PEBBLE_ROOT_PEM "$STATE/pebble/root.pem"
    kv PEBBLE_INTERMEDIATE_PEM "$STATE/pebble/intermediate.pem"
    kv PEBBLE_VERSION "$PEBBLE_VERSION"
    kv PEBBLE_BLOCKED_DOMAIN "blocked.$ZONE"
    kv ACME_STRICT_DIRECTORY_URL "https://127.0.0.1:$ACME_STRICT_PORT/dir"
    kv PEBBLE_STRICT_MGMT_URL "https://127.0.0.1:$ACME_STRICT_MGMT_PORT"
    kv PEBBLE_STRICT_ROOT_PEM "$STATE/pebble-strict/root.pem"
    kv PEBBLE_STRICT_ALTERNATE_ROOT_PEM "$STATE/pebble-strict/root-alternate.pem"
    kv ACME_STRICT_EAB_KEY_ID "$EAB_KEY_ID"
    kv ACME_STRICT_EAB_HMAC_KEY "$(<"$STATE/pebble-strict/eab-hmac.key")"
    kv ACME_STRICT_EAB2_KEY_ID "$EAB2_KEY_ID"
    kv ACME_STRICT_EAB2_HMAC_KEY "$(<"$STATE/pebble-strict/eab2-hmac.key")"
    kv HTTP01_PORT "$HTTP01_PORT"
    kv HTTP01_DEAD_PORT "$HTTP01_DEAD_PORT"
    kv TLSALPN01_PORT "$TLSALPN01_PORT"
    kv RFC2136_NAMESERVER "127.0.0.1:$DNS_PORT"
    kv RFC2136_ZONE "$ZONE"
    kv RFC2136_TSIG_KEY "$TSIG_NAME"
    kv RFC2136_TSIG_ALGORITHM hmac-sha256
    kv RFC2136_TSIG_SECRET "$secret"
    kv ETCD_ENDPOINT "http://127.0.0.1:$ETCD_PORT"
    kv ETCD_VERSION "$ETCD_VERSION"
    kv HELM_VERSION "$HELM_VERSION"
    kv GATEWAY_API_VERSION "$GATEWAY_API_VERSION"
  } >"$f.tmp"
  mv "$f.tmp" "$f"
}

# -------------------------------------------------------------------------------------- commands
lock() {
  mkdir -p "$STATE"
  have flock || return 0
  exec 9>"$STATE/.lock"
  flock -n 9 || { say "waiting for another hack/testenv.sh on $STATE"; flock -w 1800 9 || die "lock timeout"; }
}

cmd_up() {
  local t_all
  t_all=$(now_ms)
  lock
  mkdir -p "$LOGS" "$RUN"
  say "test bed in $STATE"
  install_packages
  build_tools
  make_pki
  up_named
  up_pebble
  up_pebble_strict
  up_etcd
  up_apiserver
  write_kubeconfig
  verify_kube
  apply_gateway_api
  up_solver_host
  write_env
  say "env: $STATE/env (source it: . ${STATE#"$PWD"/}/env)"
  say "test bed up in $(since "$t_all") ms"
}

cmd_down() {
  local name i any=
  [[ -d $RUN ]] || { say "test bed not up (no $RUN)"; return 0; }
  lock
  for ((i = ${#PARTS[@]} - 1; i >= 0; i--)); do
    name=${PARTS[i]}
    if stop_part "$name"; then any=1; fi
  done
  if [[ -n $any ]]; then say "test bed down"; else say "test bed not up"; fi
}

cmd_status() {
  local name pid all=0 detail ok
  for name in "${PARTS[@]}"; do
    case $name in
      named) detail="dns 127.0.0.1:$DNS_PORT zone $ZONE"; ok=health_named ;;
      pebble) detail="acme https://127.0.0.1:$ACME_PORT/dir mgmt :$ACME_MGMT_PORT"; ok=health_pebble ;;
      pebble-strict) detail="acme https://127.0.0.1:$ACME_STRICT_PORT/dir mgmt :$ACME_STRICT_MGMT_PORT (EAB, 40% badNonce, http-01 to :$HTTP01_DEAD_PORT)"; ok=health_pebble_strict ;;
      etcd) detail="http://127.0.0.1:$ETCD_PORT"; ok=health_etcd ;;
      kube-apiserver) detail="https://127.0.0.1:$APISERVER_PORT"; ok=health_apiserver ;;
      solver-host) detail="http-01 http://127.0.0.1:$HTTP01_PORT (acmesolver per solver Pod)"; ok=health_solver_host ;;
    esac
    if pid=$(pid_of "$name"); then
      if "$ok"; then
        printf '%-15s up         pid %-8s %s\n' "$name" "$pid" "$detail"
      else
        printf '%-15s unhealthy  pid %-8s %s\n' "$name" "$pid" "$detail"
        all=3
      fi
    else
      printf '%-15s down\n' "$name"
      all=3
    fi
  done
  return "$all"
}

cmd_reset() {
  cmd_down
  rm -rf "${STATE:?}/etcd"
  echo "cluster data removed: the next \`up\` starts an empty cluster"
}

# Only the Gateway API CRDs, on a bed whose kube-apiserver is up (`up` does this too).
cmd_gateway_api() {
  lock
  mkdir -p "$LOGS" "$RUN"
  health_apiserver || die "kube-apiserver is not up: run hack/testenv.sh up"
  build_tools >/dev/null
  apply_gateway_api
}

cmd_env() {
  [[ -r $STATE/env ]] || die "no $STATE/env yet: run hack/testenv.sh up"
  cat "$STATE/env"
}

main() {
  case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    reset) cmd_reset ;;
    status) cmd_status ;;
    env) cmd_env ;;
    gateway-api) cmd_gateway_api ;;
    *)
      echo "usage: $0 up|down|reset|status|env|gateway-api" >&2
      exit 2
      ;;
  esac
}
# One line, parsed before it runs: editing this file while it runs cannot change what runs.
main "$@"; exit
