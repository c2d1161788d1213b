#!/usr/bin/env bash
# Start the local Kubernetes control plane for tests, on 127.0.0.1 only:
#   etcd -> kube-apiserver (TLS, client-cert auth, Node+RBAC) -> kube-controller-manager,
#   kube-scheduler -> kwok (fakes the kubelets of three colocated nodes and runs their pods).
#
# Why not kwokctl: starting the processes ourselves keeps every flag visible here (node lifecycle
# timings, identities, ports), and nothing can try to download anything.
#
# Every `up` starts from an empty etcd, so each test session sees a clean cluster; certificates are
# kept between runs. If the cluster of this state dir is already up and healthy, up.sh only prints
# its kubeconfig (idempotent). Set TD_CLUSTER_FRESH=1 to restart it from empty instead.
#
# Env:
#   TD_CLUSTER_DIR  state dir (default ~/.cache/tradingdesk/cluster): pki/, etcd/, logs/, run/,
#                   kubeconfig (admin), ports.env
#   TD_CLUSTER_PORT_BASE  if set, use fixed ports BASE..BASE+5 (etcd client, etcd peer, apiserver,
#                   controller-manager, scheduler, kwok); otherwise free ports are picked at start.
#   TD_CLUSTER_FRESH=1    restart even if already running.
# Last line printed: export KUBECONFIG=<state dir>/kubeconfig
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${TD_CLUSTER_DIR:-$HOME/.cache/tradingdesk/cluster}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
KUBECONFIG_OUT="$DIR/kubeconfig"

# Node lifecycle timings. Why these: a failover test must see a NotReady node's pods evicted within
# seconds. Pods opt in with tolerationSeconds (see README); the controller-manager checks node health
# every NODE_MONITOR_PERIOD.
NODE_MONITOR_PERIOD="${TD_NODE_MONITOR_PERIOD:-1s}"
NODE_MONITOR_GRACE_PERIOD="${TD_NODE_MONITOR_GRACE_PERIOD:-40s}"
NODE_LEASE_SECONDS=40

# The fake nodes: name colocation
NODES=("ny4-node-1 ny4" "ny4-node-2 ny4" "ld4-node-1 ld4")

log() { printf '[up %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
T0=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))ms"; }

BIN="$("$HERE/build.sh" | tail -1)"
[[ -x "$BIN/kube-apiserver" ]] || die "binaries missing in $BIN"
STAGES="$(dirname "$BIN")/kwok-stages"

PKI="$DIR/pki"; RUN="$DIR/run"; LOGS="$DIR/logs"
mkdir -p "$PKI" "$RUN" "$LOGS"

# One up.sh at a time per state dir: a second caller waits, then finds the cluster running and reuses it.
# (fd 9 is closed for the daemons we launch, or they would hold the lock for their whole life.)
exec 9>"$DIR/.up.lock"
flock -w 300 9 || die "another up.sh holds $DIR/.up.lock"

alive() { # name -> 0 when the process recorded for name is running our binary
  local f="$RUN/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid=$(cat "$f")
  [[ -d /proc/$pid ]] && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$BIN/"* ]]
}

api_ok() { # -> 0 when the API server of ports.env answers /readyz
  [[ -f "$DIR/ports.env" ]] || return 1
  # shellcheck disable=SC1091
  source "$DIR/ports.env"
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

if [[ "${TD_CLUSTER_FRESH:-0}" != 1 ]] && alive etcd && alive kube-apiserver && alive kube-controller-manager \
   && alive kube-scheduler && alive kwok && api_ok; then
  log "cluster in $DIR already running (TD_CLUSTER_FRESH=1 restarts it)"
  echo "export KUBECONFIG=$KUBECONFIG_OUT"
  exit 0
fi

"$HERE/down.sh" >/dev/null 2>&1 || true
rm -rf "$DIR/etcd" "$LOGS"/*.log

# ---- ports ---------------------------------------------------------------------------------------
if [[ -n "${TD_CLUSTER_PORT_BASE:-}" ]]; then
  b=$TD_CLUSTER_PORT_BASE
  ports=("$b" "$((b+1))" "$((b+2))" "$((b+3))" "$((b+4))" "$((b+5))")
else
  # Ask the kernel for six free ports on 127.0.0.1 (held together so they are distinct).
  read -r -a ports < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(6):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
fi
cat >"$DIR/ports.env" <<EOF
ETCD_PORT=${ports[0]}
ETCD_PEER_PORT=${ports[1]}
APISERVER_PORT=${ports[2]}
KCM_PORT=${ports[3]}
SCHEDULER_PORT=${ports[4]}
KWOK_PORT=${ports[5]}
EOF
# shellcheck disable=SC1091
source "$DIR/ports.env"
SERVER="https://127.0.0.1:$APISERVER_PORT"

# ---- certificates (kept across runs) --------------------------------------------------------------
gen_cert() { # name subject ext-file-content [ca] -> pki/name.{key,crt} signed by pki/<ca, default ca>
  local name=$1 subj=$2 ext=$3 ca=${4:-ca}
  [[ -f "$PKI/$name.crt" ]] && return 0
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%b\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
if [[ ! -f "$PKI/ca.crt" || ! -f "$PKI/sa.pub" || ! -f "$PKI/front-proxy-ca.crt" ]]; then
  log "generating certificates in $PKI"
  rm -f "$PKI"/*
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=tradingdesk-test-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
  # service account token signing key pair
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  # separate CA for the aggregation layer's front proxy (requestheader auth), as kubeadm does
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/front-proxy-ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/front-proxy-ca.key" -subj "/CN=tradingdesk-test-front-proxy-ca" -days 3650 \
    -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/front-proxy-ca.crt" 2>/dev/null
fi
CLIENT_EXT='keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
gen_cert apiserver "/CN=kube-apiserver" \
  "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
gen_cert serving "/CN=127.0.0.1" \
  "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost"
gen_cert admin "/O=system:masters/CN=kubernetes-admin" "$CLIENT_EXT"
gen_cert kube-controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
gen_cert kube-scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
gen_cert front-proxy-client "/CN=front-proxy-client" "$CLIENT_EXT" front-proxy-ca
# kwok stands in for every kubelet and needs to write node and pod status for all of them
gen_cert kwok "/O=system:masters/CN=kwok-controller" "$CLIENT_EXT"

write_kubeconfig() { # user out
  local user=$1 out=$2
  cat >"$out.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tradingdesk-test
  cluster:
    server: $SERVER
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$user.crt")
    client-key-data: $(base64 -w0 <"$PKI/$user.key")
contexts:
- name: tradingdesk-test
  context:
    cluster: tradingdesk-test
    user: $user
current-context: tradingdesk-test
EOF
  chmod 600 "$out.tmp"; mv "$out.tmp" "$out"
}
mkdir -p "$DIR/kubeconfigs"
write_kubeconfig admin "$KUBECONFIG_OUT"
for u in kube-controller-manager kube-scheduler kwok; do write_kubeconfig "$u" "$DIR/kubeconfigs/$u"; done

# ---- processes ------------------------------------------------------------------------------------
launch() { # name args... ; own session so Ctrl-C in the caller's terminal does not kill it
  local name=$1; shift
  setsid nohup "$BIN/$name" "$@" >"$LOGS/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/$name.pid"
}
check_alive() { alive "$1" || die "$1 exited; $LOGS/$1.log ends with:
$(tail -5 "$LOGS/$1.log")"; }
wait_for() { # what timeout_s process(or -) command...  (fails fast when process has exited)
  local what=$1 timeout=$2 proc=$3; shift 3
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    [[ "$proc" == - ]] || check_alive "$proc"
    if (( $(date +%s) >= deadline )); then die "$what not ready after ${timeout}s (logs: $LOGS)"; fi
    sleep 0.2
  done
  log "$what ok ($(elapsed))"
}
# On failure, stop what was started (no stray processes), unless asked to keep it for debugging.
ok=0
cleanup() { if (( ! ok )) && [[ "${TD_CLUSTER_KEEP_ON_FAIL:-0}" != 1 ]]; then "$HERE/down.sh" >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

launch etcd \
  --name=td --data-dir="$DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="td=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --log-level=warn
wait_for etcd 30 etcd bash -c "curl -fsS --max-time 1 http://127.0.0.1:$ETCD_PORT/health | grep -q true"

# Flags modelled on envtest's (controller-runtime pkg/internal/testing/controlplane), plus RBAC
launch kube-apiserver \
  --advertise-address=127.0.0.1 --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type=none \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --authorization-mode=Node,RBAC \
  --service-cluster-ip-range=10.96.0.0/16 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --allow-privileged=true \
  --enable-priority-and-fairness=false \
  --profiling=false --v=1
wait_for kube-apiserver 60 kube-apiserver bash -c "curl -fsS --max-time 2 --cacert '$PKI/ca.crt' --cert '$PKI/admin.crt' --key '$PKI/admin.key' $SERVER/readyz"

launch kube-controller-manager \
  --kubeconfig="$DIR/kubeconfigs/kube-controller-manager" \
  --authentication-kubeconfig="$DIR/kubeconfigs/kube-controller-manager" \
  --authorization-kubeconfig="$DIR/kubeconfigs/kube-controller-manager" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" \
  --leader-elect=false \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --node-monitor-period="$NODE_MONITOR_PERIOD" --node-monitor-grace-period="$NODE_MONITOR_GRACE_PERIOD" \
  --kube-api-qps=200 --kube-api-burst=400 \
  --profiling=false --v=1

launch kube-scheduler \
  --kubeconfig="$DIR/kubeconfigs/kube-scheduler" \
  --authentication-kubeconfig="$DIR/kubeconfigs/kube-scheduler" \
  --authorization-kubeconfig="$DIR/kubeconfigs/kube-scheduler" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key" \
  --leader-elect=false --kube-api-qps=200 --kube-api-burst=400 \
  --profiling=false --v=1

# kwok stages: kwok's own node (initialize, heartbeat with lease, chaos not-ready) and fast pod stages,
# copied from the kwok module by build.sh. A node labelled node-not-ready.stage.kwok.x-k8s.io=true
# gets Ready=False (that stage has weight 10000, the others 0, so it wins while the label is there);
# removing the label lets node-initialize set Ready=True again. See set_node_ready in control_plane.py.
{
  first=1
  for s in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
           node/chaos/node-not-ready pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    [[ -f "$STAGES/$s.yaml" ]] || die "missing kwok stage $STAGES/$s.yaml (re-run build.sh)"
    (( first )) || echo "---"; first=0
    cat "$STAGES/$s.yaml"
  done
} >"$DIR/kwok.yaml"

launch kwok \
  --kubeconfig="$DIR/kubeconfigs/kwok" --config="$DIR/kwok.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --cidr=10.244.0.0/16 \
  --node-lease-duration-seconds="$NODE_LEASE_SECONDS" \
  --server-address="127.0.0.1:$KWOK_PORT" --node-port="$KWOK_PORT" \
  --tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key"

# ---- nodes ----------------------------------------------------------------------------------------
{
  for n in "${NODES[@]}"; do
    read -r name colo <<<"$n"
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
    type: kwok
    tradingdesk.io/colocation: $colo
    tradingdesk.io/role: desk
    topology.kubernetes.io/zone: $colo
spec:
  taints:
  - key: tradingdesk.io/desk
    value: "true"
    effect: NoSchedule
  - key: kwok.x-k8s.io/node
    value: fake
    effect: NoSchedule
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  done
} >"$DIR/nodes.yaml"
export KUBECONFIG="$KUBECONFIG_OUT"
kubectl apply -f "$DIR/nodes.yaml" >/dev/null

for c in kube-controller-manager kube-scheduler kwok; do check_alive "$c"; done
wait_for kube-controller-manager 60 kube-controller-manager curl -fsSk --max-time 1 "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler 60 kube-scheduler curl -fsSk --max-time 1 "https://127.0.0.1:$SCHEDULER_PORT/healthz"
# pods cannot be created until the service account controller has made `default`
wait_for "serviceaccount default/default:" 60 kube-controller-manager kubectl get serviceaccount default -n default
wait_for "${#NODES[@]} nodes:" 60 kwok bash -c \
  "[[ \$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}' | grep -c True) == ${#NODES[@]} ]]"
for c in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do check_alive "$c"; done

ok=1
log "cluster up in $(elapsed): API $SERVER, state $DIR, logs $LOGS"
echo "export KUBECONFIG=$KUBECONFIG_OUT"
