#!/usr/bin/env bash
# Turn an Ubuntu VM into a Kubernetes node and bring the cluster up; cloud-init runs it once.
#
#   every node   swap off, overlay + br_netfilter, the bridge/forwarding sysctls, containerd.io
#                and kubeadm/kubelet/kubectl at their pinned versions (held)
#   master       kubeadm init with the stack's CA and bootstrap token, Calico from its pinned
#                manifest, then, once every node is Ready, the sample application
#   worker       waits for the API server, then kubeadm join (token, CA key pinned by hash)
#
# Parameters: ${CLOUDLABS_CONFIG_DIR:-/etc/cloudlabs}/kubernetes.env, written by cloud-init
# (see components/kubernetes/cloud_init.py), next to kubeadm.yaml, pki/ and app.yaml. Every
# step checks before it acts: running the script again after a failure resumes the work.
set -euo pipefail

CONFIG_DIR="${CLOUDLABS_CONFIG_DIR:-/etc/cloudlabs}"
KEYRINGS=/etc/apt/keyrings
WAIT_INTERVAL="${WAIT_INTERVAL:-10}"

log() { printf '[cloudlabs-k8s] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

load_config() {
    # shellcheck source=/dev/null
    . "${CONFIG_DIR}/kubernetes.env"
    local var required=(ROLE NODE_NAME NODE_IP MASTER_IP K8S_APT_REPO K8S_PACKAGE_VERSION
        CONTAINERD_APT_REPO CONTAINERD_VERSION READY_TIMEOUT)
    if [[ "${ROLE:-}" == master ]]; then
        required+=(POD_CIDR CALICO_MANIFEST_URL CALICO_ENCAPSULATION EXPECTED_NODES APP_NAME
            APP_NAMESPACE)
    fi
    for var in "${required[@]}"; do
        [[ -n "${!var:-}" ]] || die "${var} is not set in ${CONFIG_DIR}/kubernetes.env"
    done
}

disable_swap() {
    swapoff -a
    if grep -Eq '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab; then
        sed -Ei 's/^([^#].*[[:space:]]swap[[:space:]].*)$/# \1/' /etc/fstab
    fi
}

load_kernel_modules() {
    local module
    for module in overlay br_netfilter; do
        modprobe "${module}"
    done
    sysctl --system >/dev/null
}

# add_apt_source NAME KEY_URL "URL SUITE [COMPONENT]": a signed apt source.
add_apt_source() {
    local name=$1 key_url=$2 source=$3 keyring="${KEYRINGS}/$1.gpg"
    install -d -m 0755 "${KEYRINGS}"
    if [[ ! -s "${keyring}" ]]; then
        curl -fsSL --retry 5 "${key_url}" | gpg --dearmor --yes -o "${keyring}"
    fi
    printf 'deb [signed-by=%s] %s\n' "${keyring}" "${source}" >"/etc/apt/sources.list.d/${name}.list"
}

install_packages() {
    local codename held=(containerd.io kubelet kubeadm kubectl)
    codename="$(awk -F= '$1 == "VERSION_CODENAME" { print $2 }' /etc/os-release)"
    add_apt_source docker "${CONTAINERD_APT_REPO%/}/gpg" "${CONTAINERD_APT_REPO%/} ${codename} stable"
    add_apt_source kubernetes "${K8S_APT_REPO%/}/Release.key" "${K8S_APT_REPO%/}/ /"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -q -y --allow-change-held-packages \
        "containerd.io=${CONTAINERD_VERSION}" \
        "kubelet=${K8S_PACKAGE_VERSION}" \
        "kubeadm=${K8S_PACKAGE_VERSION}" \
        "kubectl=${K8S_PACKAGE_VERSION}"
    apt-mark hold "${held[@]}" >/dev/null
}

configure_containerd() {
    local conf=/etc/containerd/config.toml
    if ! grep -q 'SystemdCgroup = true' "${conf}" 2>/dev/null; then
        install -d -m 0755 /etc/containerd
        containerd config default >"${conf}"
        sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' "${conf}"
        grep -q 'SystemdCgroup = true' "${conf}" ||
            die "could not turn on the systemd cgroup driver in ${conf}"
        systemctl restart containerd
    fi
    systemctl enable --now containerd
    systemctl enable kubelet
}

init_control_plane() {
    if [[ ! -f /etc/kubernetes/admin.conf ]]; then
        # The stack's CA: workers pin its key by hash, so kubeadm must not make its own.
        install -d -m 0755 /etc/kubernetes/pki
        install -m 0644 "${CONFIG_DIR}/pki/ca.crt" /etc/kubernetes/pki/ca.crt
        install -m 0600 "${CONFIG_DIR}/pki/ca.key" /etc/kubernetes/pki/ca.key
        log "kubeadm init on ${NODE_IP}"
        kubeadm init --config "${CONFIG_DIR}/kubeadm.yaml"
    fi
    if [[ -n "${SSH_USER:-}" ]] && id "${SSH_USER}" >/dev/null 2>&1; then
        local home group
        home="$(getent passwd "${SSH_USER}" | cut -d: -f6)"
        group="$(id -gn "${SSH_USER}")"
        install -d -m 0700 -o "${SSH_USER}" -g "${group}" "${home}/.kube"
        install -m 0600 -o "${SSH_USER}" -g "${group}" /etc/kubernetes/admin.conf \
            "${home}/.kube/config"
    fi
}

# edit_calico_manifest FILE POD_CIDR ipip|vxlan: set the IP pool calico-node creates on first
# start (CALICO_IPV4POOL_CIDR and its encapsulation), then check that the manifest says so.
edit_calico_manifest() {
    local file=$1 cidr=$2 encapsulation=$3 ipip=Always vxlan=Never
    [[ "${cidr}" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]] || die "bad pod CIDR ${cidr}"
    case "${encapsulation}" in
        ipip) ;;
        vxlan) ipip=Never vxlan=Always ;;
        *) die "unknown Calico encapsulation ${encapsulation}" ;;
    esac
    sed -i -E \
        -e 's/^([[:space:]]*)# (- name: CALICO_IPV4POOL_CIDR)$/\1\2/' \
        -e "/- name: CALICO_IPV4POOL_CIDR\$/{n;s|^([[:space:]]*)#   value: .*\$|\1  value: \"${cidr}\"|;s|^([[:space:]]*)value: .*\$|\1value: \"${cidr}\"|}" \
        -e "/- name: CALICO_IPV4POOL_IPIP\$/{n;s|value: .*\$|value: \"${ipip}\"|}" \
        -e "/- name: CALICO_IPV4POOL_VXLAN\$/{n;s|value: .*\$|value: \"${vxlan}\"|}" \
        "${file}"
    local name value
    for name in CIDR IPIP VXLAN; do
        case "${name}" in
            CIDR) value="${cidr}" ;;
            IPIP) value="${ipip}" ;;
            VXLAN) value="${vxlan}" ;;
        esac
        grep -A1 -E "^[[:space:]]*- name: CALICO_IPV4POOL_${name}\$" "${file}" |
            grep -qE "^[[:space:]]*value: \"${value}\"\$" ||
            die "could not set CALICO_IPV4POOL_${name} to ${value} in ${file}"
    done
}

install_calico() {
    local manifest="${CONFIG_DIR}/calico.yaml"
    if [[ ! -s "${manifest}" ]]; then
        log "Calico from ${CALICO_MANIFEST_URL}"
        curl -fsSL --retry 5 -o "${manifest}.download" "${CALICO_MANIFEST_URL}"
        edit_calico_manifest "${manifest}.download" "${POD_CIDR}" "${CALICO_ENCAPSULATION}"
        mv "${manifest}.download" "${manifest}"
    fi
    kubectl apply -f "${manifest}"
}

# wait_for_nodes COUNT TIMEOUT: succeed once COUNT nodes are registered and all of them are
# Ready; fail after TIMEOUT seconds.
wait_for_nodes() {
    local want=$1 timeout=$2 deadline=$((SECONDS + $2)) nodes ready name status
    while :; do
        nodes=0 ready=0
        while read -r name status; do
            [[ -n "${name}" ]] || continue
            nodes=$((nodes + 1))
            if [[ "${status}" == True ]]; then
                ready=$((ready + 1))
            fi
        done < <(kubectl get nodes -o \
            jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
            2>/dev/null || true)
        if ((nodes >= want && ready == nodes)); then
            log "${nodes} nodes Ready"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log "after ${timeout}s: ${ready} of ${want} nodes Ready"
            return 1
        fi
        sleep "${WAIT_INTERVAL}"
    done
}

deploy_application() {
    wait_for_nodes "${EXPECTED_NODES}" "${READY_TIMEOUT}" ||
        die "the cluster is not ready; the application is not deployed"
    kubectl apply -f "${CONFIG_DIR}/app.yaml"
    kubectl rollout status "deployment/${APP_NAME}" --namespace "${APP_NAMESPACE}" \
        --timeout "${READY_TIMEOUT}s" || die "deployment/${APP_NAME} did not become available"
}

# wait_for_api_server TIMEOUT: the control plane answers on its private address.
wait_for_api_server() {
    local deadline=$((SECONDS + $1)) url="https://${MASTER_IP}:6443/livez"
    until curl -fsk --max-time 5 "${url}" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep "${WAIT_INTERVAL}"
    done
}

join_cluster() {
    if [[ -f /etc/kubernetes/kubelet.conf ]]; then
        log "${NODE_NAME} has already joined"
        return 0
    fi
    wait_for_api_server "${READY_TIMEOUT}" ||
        die "no API server at ${MASTER_IP}:6443 after ${READY_TIMEOUT}s"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until kubeadm join --config "${CONFIG_DIR}/kubeadm.yaml"; do
        ((SECONDS < deadline)) || die "kubeadm join did not succeed within ${READY_TIMEOUT}s"
        log "kubeadm join failed; resetting and trying again"
        kubeadm reset --force >/dev/null 2>&1 || true
        sleep "${WAIT_INTERVAL}"
    done
}

main() {
    load_config
    log "preparing ${NODE_NAME} (${ROLE}, ${NODE_IP})"
    disable_swap
    load_kernel_modules
    install_packages
    configure_containerd
    case "${ROLE}" in
        master)
            export KUBECONFIG=/etc/kubernetes/admin.conf
            init_control_plane
            install_calico
            deploy_application
            ;;
        worker) join_cluster ;;
        *) die "unknown ROLE ${ROLE}" ;;
    esac
    log "${NODE_NAME} is done"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
