#!/usr/bin/env bash
# Bring up the end-to-end test control plane and print the path of its env
# file (last stdout line); hack/e2e-down.sh stops it again.
#
#   CA_E2E_ENV=$(hack/e2e-up.sh | tail -n1)
#
# What runs, all on 127.0.0.1, state in ${CA_STATE_DIR:-/tmp/containers-apiserver}/e2e/:
#   etcd            Debian's etcd-server (apt-installed if missing), free ports, data in e2e/etcd
#   kube-apiserver  hack/ensure-kube-apiserver.sh (v1.37.2, built once and cached), with
#                   RBAC, no anonymous auth, a 15s --request-timeout, the front-proxy
#                   (requestheader) flags, an admin client certificate (O=system:masters)
#                   and a token file for the test users viewer, logreader and operator
#   containers-apiserver
#                   this tree, `go build -race ./cmd/apiserver` (without -race when
#                   CA_E2E_RACE=0, as make bench measures it), DELEGATED: its identity
#                   is the ServiceAccount rancher-desktop/containers-apiserver from
#                   artifacts/deploy (a TokenRequest token), so the artifacts' auth-delegator
#                   and extension-apiserver-authentication-reader bindings grant it.
# Applied to the cluster: artifacts/deploy's Namespace, ServiceAccount and auth
# bindings and every artifacts/rbac/*.yaml, as they are; then the test's OWN
# Service (type ExternalName, localhost) and APIService (insecureSkipTLSVerify,
# port = the server's port) in place of artifacts/deploy's Deployment, Service and
# APIService, which need a kubelet; and RoleBindings of the test users (test data).
#
# Any control plane left by a previous run is stopped first, so every run starts
# fresh (certificates and tokens included). Docker: $DOCKER_HOST, else
# hack/ensure-docker.sh; the busybox test image is built if missing.
# Env: CA_STATE_DIR, DOCKER_HOST, CA_E2E_REQUEST_TIMEOUT (default 15s), CA_E2E_RACE (default 1),
#      CA_KUBE_APISERVER (a prebuilt kube-apiserver), CA_E2E_START_TIMEOUT (default 120s).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments)"
dir=$CA_STATE_BASE/e2e
timeout=${CA_E2E_START_TIMEOUT:-120}
request_timeout=${CA_E2E_REQUEST_TIMEOUT:-15s}
namespace=rancher-desktop

hack/e2e-down.sh
ca_prepare_state_base
mkdir -p "$dir"
chmod 0700 "$dir"

command -v etcd >/dev/null || ensure_apt_packages etcd-server
command -v openssl >/dev/null || ensure_apt_packages openssl
command -v curl >/dev/null || ensure_apt_packages curl
command -v kubectl >/dev/null || ensure_apt_packages kubectl

if [[ -z ${DOCKER_HOST:-} ]] || ! ca_docker_answers "$DOCKER_HOST"; then
	DOCKER_HOST=$(hack/ensure-docker.sh | tail -n1)
fi
export DOCKER_HOST
hack/build-busybox-image.sh -H "$DOCKER_HOST"

kas=$(hack/ensure-kube-apiserver.sh | tail -n1)

# ---------------------------------------------------------------------------
# Free ports: nothing answers on them now (a small race with other programs
# is acceptable for a test rig).
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
declare -A taken=()
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 30000))
		[[ -z ${taken[$p]:-} ]] && ! port_in_use "$p" && taken[$p]=1 && echo "$p" && return 0
	done
	ca_die "no free port found"
}
etcd_port=$(free_port)
etcd_peer_port=$(free_port)
kas_port=$(free_port)
server_port=$(free_port)

# ---------------------------------------------------------------------------
# Certificates (valid 7 days; regenerated every run).
pki=$dir/pki
mkdir -p "$pki"
ca_log "generating certificates in $pki"
new_ca() { # NAME CN
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
		-subj "/CN=$2" -keyout "$pki/$1.key" -out "$pki/$1.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
new_cert() { # NAME CA SUBJECT EXTENSIONS
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$3" \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
	printf '%s\n' "$4" >"$pki/$1.ext"
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" -CAkey "$pki/$2.key" -CAcreateserial \
		-days 7 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
	rm -f "$pki/$1.csr" "$pki/$1.ext"
}
new_ca serving-ca "e2e serving CA"
new_ca client-ca "e2e client CA"
new_ca front-proxy-ca "e2e front-proxy CA"
new_cert kube-apiserver serving-ca "/CN=kube-apiserver" \
	"$(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment')"
new_cert admin client-ca "/O=system:masters/CN=e2e-admin" \
	"$(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment')"
new_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" \
	"$(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment')"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"

# Test users: token,user,uid[,groups]. No groups: kube-apiserver adds system:authenticated.
tok() { openssl rand -hex 24; }
viewer_token=$(tok) logreader_token=$(tok) operator_token=$(tok)
cat >"$pki/tokens.csv" <<TOKENS
$viewer_token,viewer,uid-viewer
$logreader_token,logreader,uid-logreader
$operator_token,operator,uid-operator
TOKENS

# ---------------------------------------------------------------------------
# start_daemon NAME LOG CMD... : runs CMD in its own session, pid in $dir/NAME.pid.
start_daemon() {
	local name=$1 log=$2
	shift 2
	printf "=== %s starting %s\n" "$(date -Is)" "$*" >"$log"
	setsid "$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$dir/$name.pid"
}
# wait_for NAME LOG CMD... : waits until CMD succeeds while NAME runs.
wait_for() {
	local name=$1 log=$2 pid
	shift 2
	pid=$(<"$dir/$name.pid")
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$log" >&2
			ca_die "$name exited during startup (see $log)"
		fi
		((SECONDS < deadline)) || { tail -n 40 "$log" >&2; ca_die "$name not ready within ${timeout}s (see $log)"; }
		sleep 0.25
	done
}

etcd_url=http://127.0.0.1:$etcd_port
start_daemon etcd "$dir/etcd.log" etcd --name e2e --data-dir "$dir/etcd" \
	--listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
	--listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	--initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
	--initial-cluster "e2e=http://127.0.0.1:$etcd_peer_port" \
	--unsafe-no-fsync --quota-backend-bytes 1073741824
wait_for etcd "$dir/etcd.log" curl -fsS --max-time 2 "$etcd_url/health"
ca_log "etcd answers at $etcd_url"

kas_url=https://127.0.0.1:$kas_port
start_daemon kube-apiserver "$dir/kube-apiserver.log" "$kas" \
	--etcd-servers "$etcd_url" \
	--bind-address 127.0.0.1 --secure-port "$kas_port" \
	--advertise-address 127.0.0.1 --endpoint-reconciler-type none \
	--service-cluster-ip-range 10.0.0.0/24 \
	--tls-cert-file "$pki/kube-apiserver.crt" --tls-private-key-file "$pki/kube-apiserver.key" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
	--authorization-mode RBAC --anonymous-auth=false \
	--client-ca-file "$pki/client-ca.crt" --token-auth-file "$pki/tokens.csv" \
	--requestheader-client-ca-file "$pki/front-proxy-ca.crt" \
	--requestheader-allowed-names front-proxy-client \
	--requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
	--requestheader-extra-headers-prefix X-Remote-Extra- --requestheader-uid-headers X-Remote-Uid \
	--proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
	--request-timeout "$request_timeout" \
	--enable-priority-and-fairness=true
kas_ready() {
	curl -fsS --max-time 2 --cacert "$pki/serving-ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
		"$kas_url/readyz"
}
wait_for kube-apiserver "$dir/kube-apiserver.log" kas_ready
ca_log "kube-apiserver answers at $kas_url"

# kubeconfig FILE USER (cert|token VALUE)
kubeconfig() {
	local file=$1 user=$2 kind=$3 value=${4:-}
	rm -f "$file"
	local -a k=(kubectl --kubeconfig "$file" config)
	"${k[@]}" set-cluster e2e --server "$kas_url" --certificate-authority "$pki/serving-ca.crt" --embed-certs >/dev/null
	if [[ $kind == cert ]]; then
		"${k[@]}" set-credentials "$user" --client-certificate "$pki/admin.crt" --client-key "$pki/admin.key" --embed-certs >/dev/null
	else
		"${k[@]}" set-credentials "$user" --token "$value" >/dev/null
	fi
	"${k[@]}" set-context e2e --cluster e2e --user "$user" --namespace "$namespace" >/dev/null
	"${k[@]}" use-context e2e >/dev/null
	chmod 0600 "$file"
}
admin_kc=$dir/admin.kubeconfig
kubeconfig "$admin_kc" admin cert
kubeconfig "$dir/viewer.kubeconfig" viewer token "$viewer_token"
kubeconfig "$dir/logreader.kubeconfig" logreader token "$logreader_token"
kubeconfig "$dir/operator.kubeconfig" operator token "$operator_token"
kc() { kubectl --kubeconfig "$admin_kc" "$@"; }

# The RBAC bootstrap (system:auth-delegator, extension-apiserver-authentication-reader)
# and the extension-apiserver-authentication ConfigMap appear shortly after /readyz.
ca_wait_until "$timeout" kc get clusterrole system:auth-delegator >/dev/null 2>&1 ||
	ca_die "ClusterRole system:auth-delegator did not appear"
ca_wait_until "$timeout" kc -n kube-system get role extension-apiserver-authentication-reader >/dev/null 2>&1 ||
	ca_die "Role extension-apiserver-authentication-reader did not appear"
ca_wait_until "$timeout" kc -n kube-system get configmap extension-apiserver-authentication >/dev/null 2>&1 ||
	ca_die "ConfigMap extension-apiserver-authentication did not appear"

ca_log "applying artifacts/deploy (namespace, service account, auth bindings) and artifacts/rbac"
kc apply -f artifacts/deploy/00-namespace.yaml -f artifacts/deploy/10-serviceaccount.yaml \
	-f artifacts/deploy/20-auth-delegation.yaml >&2
kc apply -f artifacts/rbac/ >&2
# Test data: the test users' bindings to the artifacts' roles.
kc apply -f - >&2 <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-viewer, namespace: $namespace}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: containers-rancherdesktop-io:viewer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: viewer}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-logreader, namespace: $namespace}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: containers-rancherdesktop-io:log-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: logreader}]
---
# kubectl annotate reads the object first: the operator is a viewer too.
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-operator-viewer, namespace: $namespace}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: containers-rancherdesktop-io:viewer}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: operator}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-operator, namespace: $namespace}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: containers-rancherdesktop-io:operator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: operator}]
YAML

# The server's identity: the artifacts' ServiceAccount, through TokenRequest
# (kube-apiserver serves it itself; no controller-manager needed).
ca_wait_until 30 kc -n "$namespace" get serviceaccount containers-apiserver >/dev/null 2>&1 ||
	ca_die "ServiceAccount containers-apiserver did not appear"
sa_token=$(kc -n "$namespace" create token containers-apiserver --duration=24h)
server_kc=$dir/server.kubeconfig
kubeconfig "$server_kc" system:serviceaccount:$namespace:containers-apiserver token "$sa_token"

server_bin=$dir/containers-apiserver
if [[ ${CA_E2E_RACE:-1} == 0 ]]; then
	ca_log "building containers-apiserver"
	go build -o "$server_bin" ./cmd/apiserver
else
	ca_log "building containers-apiserver (-race)"
	go build -race -o "$server_bin" ./cmd/apiserver
fi
server_url=https://127.0.0.1:$server_port
server_args=(--bind-address 127.0.0.1 --cert-dir "$dir/server-certs"
	--authentication-kubeconfig "$server_kc" --authorization-kubeconfig "$server_kc" --kubeconfig "$server_kc"
	--namespace "$namespace")
start_daemon containers-apiserver "$dir/containers-apiserver.log" "$server_bin" \
	--secure-port "$server_port" --docker-host "$DOCKER_HOST" "${server_args[@]}"
wait_for containers-apiserver "$dir/containers-apiserver.log" curl -kfsS --max-time 2 "$server_url/readyz"
ca_log "containers-apiserver is ready at $server_url"

# The test's own Service and APIService: artifacts/deploy's need a Deployment
# (a kubelet) and a ClusterIP; here kube-apiserver reaches the server on
# localhost through an ExternalName Service and the APIService's port.
kc apply -f - >&2 <<YAML
apiVersion: v1
kind: Service
metadata: {name: containers-apiserver-e2e, namespace: $namespace}
spec:
  type: ExternalName
  externalName: localhost
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1alpha1.containers.rancherdesktop.io}
spec:
  group: containers.rancherdesktop.io
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  service: {name: containers-apiserver-e2e, namespace: $namespace, port: $server_port}
  insecureSkipTLSVerify: true
YAML
kc wait --for=condition=Available apiservice/v1alpha1.containers.rancherdesktop.io --timeout="${timeout}s" >&2 ||
	ca_die "APIService not Available: $(kc get apiservice v1alpha1.containers.rancherdesktop.io -o jsonpath='{.status.conditions}')"

env_file=$dir/env
{
	printf 'E2E_DIR=%s\n' "$dir"
	printf 'E2E_KUBE_URL=%s\n' "$kas_url"
	printf 'E2E_KUBE_CA=%s\n' "$pki/serving-ca.crt"
	printf 'E2E_ADMIN_KUBECONFIG=%s\n' "$admin_kc"
	printf 'E2E_ADMIN_CERT=%s\n' "$pki/admin.crt"
	printf 'E2E_ADMIN_KEY=%s\n' "$pki/admin.key"
	printf 'E2E_TOKEN_VIEWER=%s\n' "$viewer_token"
	printf 'E2E_TOKEN_LOGREADER=%s\n' "$logreader_token"
	printf 'E2E_TOKEN_OPERATOR=%s\n' "$operator_token"
	printf 'E2E_KUBECONFIG_VIEWER=%s\n' "$dir/viewer.kubeconfig"
	printf 'E2E_KUBECONFIG_LOGREADER=%s\n' "$dir/logreader.kubeconfig"
	printf 'E2E_KUBECONFIG_OPERATOR=%s\n' "$dir/operator.kubeconfig"
	printf 'E2E_NAMESPACE=%s\n' "$namespace"
	printf 'E2E_REQUEST_TIMEOUT=%s\n' "$request_timeout"
	printf 'E2E_SERVER_URL=%s\n' "$server_url"
	printf 'E2E_SERVER_PORT=%s\n' "$server_port"
	printf 'E2E_SERVER_BIN=%s\n' "$server_bin"
	printf 'E2E_SERVER_PIDFILE=%s\n' "$dir/containers-apiserver.pid"
	printf 'E2E_SERVER_KUBECONFIG=%s\n' "$server_kc"
	printf 'E2E_APISERVICE=%s\n' v1alpha1.containers.rancherdesktop.io
	printf 'DOCKER_HOST=%s\n' "$DOCKER_HOST"
} >"$env_file"
ca_log "e2e control plane is up; env in $env_file"
echo "$env_file"
