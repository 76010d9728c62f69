"""openstack-k8s, from its shipped stack file, checked against docs/labs.md."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from kubernetes_validate import utils as kubernetes_validate

from components.kubernetes import ca_cert_hash
from tests.harness import (
    ROOT,
    Resource,
    StackRun,
    change,
    changed,
    revealed,
    run_function,
    run_program,
)
from tests.validators import assert_cloud_config_valid

STACK = "openstack-k8s"
K = "cloud-labs:"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
GROUP = "openstack:networking/secGroup:SecGroup"
INSTANCE = "openstack:compute/instance:Instance"
PASSWORD = "random:index/randomPassword:RandomPassword"
TOKEN_RE = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")


def named(run: StackRun, type_: str, name: str) -> Resource:
    """The one resource of ``type_`` called ``name`` at the provider."""
    found = [r for r in run.of_type(type_) if r.inputs.get("name") == name]
    assert len(found) == 1, f"expected one {type_} named {name}: {found}"
    return found[0]


def user_data_text(run: StackRun, node: str) -> str:
    instance = named(run, INSTANCE, node)
    text, _ = revealed(instance.inputs["userData"])
    assert text.startswith("#cloud-config\n"), instance
    return str(text)


def user_data(run: StackRun, node: str) -> dict[str, Any]:
    return dict(yaml.safe_load(user_data_text(run, node)))


def written(run: StackRun, node: str, path: str) -> str:
    files = {f["path"]: f for f in user_data(run, node)["write_files"]}
    assert path in files, f"{node} writes no {path}: {sorted(files)}"
    return files[path]["content"]


def kubeadm_docs(run: StackRun, node: str) -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all(written(run, node, "/etc/cloudlabs/kubeadm.yaml"))
    return {doc["kind"]: doc for doc in docs}


def kubelet_args(registration: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["value"] for a in registration["kubeletExtraArgs"]}


def token_of(run: StackRun) -> str:
    parts = {r.name: r.state["result"] for r in run.of_type(PASSWORD)}
    return parts["k8s-credentials-token-id"] + "." + parts["k8s-credentials-token-secret"]


def test_three_nodes_from_the_configured_image_and_flavor(run: StackRun, shipped: dict) -> None:
    nodes = shipped[K + "nodes"]
    instances = {r.inputs["name"]: r for r in run.of_type(INSTANCE)}
    assert sorted(instances) == ["master", "worker1", "worker2"]
    for name, instance in instances.items():
        assert instance.inputs["imageName"] == nodes["image"], instance
        assert instance.inputs["flavorName"] == nodes["flavor"] == "medium", instance
        assert instance.inputs["keyPair"] == shipped[K + "keypairName"], instance
        assert user_data(run, name)["hostname"] == name


def test_each_node_has_its_fixed_address_and_a_floating_ip(run: StackRun, shipped: dict) -> None:
    nodes = shipped[K + "nodes"]
    wanted = {n["name"]: n["fixedIp"] for n in [nodes["master"], *nodes["workers"]]}
    for name, ip in wanted.items():
        port = named(run, "openstack:networking/port:Port", f"{name}-port")
        assert port.inputs["fixedIps"][0]["ipAddress"] == ip, port
        (assoc,) = [
            a
            for a in run.of_type("openstack:networking/floatingIpAssociate:FloatingIpAssociate")
            if a.inputs["portId"] == port.id
        ]
        assert assoc.inputs["portId"] == port.id, assoc
        interface = run.one("openstack:networking/routerInterface:RouterInterface")
        assert run.depends_on(assoc, interface), f"{assoc} must go before {interface}"
    fips = run.of_type("openstack:networking/floatingIp:FloatingIp")
    assert len(fips) == 3
    assert {f.inputs["pool"] for f in fips} == {shipped[K + "externalNetwork"]}


def rule_set(run: StackRun) -> set[tuple[str, str, Any, Any, str]]:
    """(group, protocol, port min, port max, source) of every rule; source 'cidr:' or 'group:'."""
    groups = {g.id: g.inputs["name"] for g in run.of_type(GROUP)}
    out = set()
    for rule in run.of_type(RULE):
        i = rule.inputs
        assert i["direction"] == "ingress" and i["ethertype"] == "IPv4", rule
        assert ("remoteIpPrefix" in i) != ("remoteGroupId" in i), rule
        source = f"cidr:{i['remoteIpPrefix']}" if "remoteIpPrefix" in i else ""
        source = source or f"group:{groups[i['remoteGroupId']]}"
        group = groups[i["securityGroupId"]]
        out.add((group, i["protocol"], i.get("portRangeMin"), i.get("portRangeMax"), source))
    assert len(out) == len(run.of_type(RULE)), "duplicate rules"
    return out


def expected_rules(admin: str, node_ports: str, overlay: tuple[str, Any, Any]) -> set[tuple]:
    nodes, cp = "group:cloudlabs-k8s-nodes", "group:cloudlabs-k8s-control-plane"
    return {
        ("cloudlabs-k8s-nodes", "tcp", 22, 22, f"cidr:{admin}"),
        ("cloudlabs-k8s-nodes", "tcp", 10250, 10250, nodes),
        ("cloudlabs-k8s-nodes", "tcp", 179, 179, nodes),
        ("cloudlabs-k8s-nodes", *overlay, nodes),
        ("cloudlabs-k8s-nodes", "tcp", 30000, 32767, f"cidr:{node_ports}"),
        ("cloudlabs-k8s-control-plane", "tcp", 6443, 6443, nodes),
        ("cloudlabs-k8s-control-plane", "tcp", 6443, 6443, f"cidr:{admin}"),
        ("cloudlabs-k8s-control-plane", "tcp", 2379, 2380, cp),
    }


def test_security_groups_hold_exactly_the_kubernetes_and_calico_ports(run: StackRun) -> None:
    assert rule_set(run) == expected_rules("0.0.0.0/0", "0.0.0.0/0", ("4", None, None))


def test_only_the_configured_cidrs_reach_the_nodes_from_outside(shipped: dict) -> None:
    config = {**shipped, K + "adminCidr": "198.51.100.0/24", K + "nodePortCidr": "192.0.2.0/24"}
    config[K + "kubernetes"] = {**shipped[K + "kubernetes"], "calicoEncapsulation": "vxlan"}
    found = rule_set(run_program(config))
    assert found == expected_rules("198.51.100.0/24", "192.0.2.0/24", ("udp", 4789, 4789))
    cidrs = {rule[-1] for rule in found if rule[-1].startswith("cidr:")}
    assert cidrs == {"cidr:198.51.100.0/24", "cidr:192.0.2.0/24"}


def test_master_has_both_groups_and_workers_only_the_nodes_group(run: StackRun) -> None:
    groups = {g.inputs["name"]: g.id for g in run.of_type(GROUP)}
    ports = {p.inputs["name"]: p for p in run.of_type("openstack:networking/port:Port")}
    assert ports["master-port"].inputs["securityGroupIds"] == [
        groups["cloudlabs-k8s-nodes"],
        groups["cloudlabs-k8s-control-plane"],
    ]
    for worker in ("worker1", "worker2"):
        port = ports[f"{worker}-port"]
        assert port.inputs["securityGroupIds"] == [groups["cloudlabs-k8s-nodes"]], port


def test_bootstrap_token_is_generated_in_kubeadm_format_and_never_output(run: StackRun) -> None:
    for part in run.of_type(PASSWORD):
        i = part.inputs
        assert (i["lower"], i["upper"], i["numeric"], i["special"]) == (True, False, True, False)
    token = token_of(run)
    assert TOKEN_RE.match(token), token
    init = kubeadm_docs(run, "master")["InitConfiguration"]
    assert [t["token"] for t in init["bootstrapTokens"]] == [token]
    for worker in ("worker1", "worker2"):
        join = kubeadm_docs(run, worker)["JoinConfiguration"]
        assert join["discovery"]["bootstrapToken"]["token"] == token
        assert token not in written(run, worker, "/etc/cloudlabs/kubernetes.env")
    plain = {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}
    text = json.dumps(plain)
    assert token not in text
    assert token.split(".")[1] not in text
    ca_key = run.one("tls:index/privateKey:PrivateKey").state["privateKeyPem"]
    assert ca_key.splitlines()[1] not in text


def test_every_nodes_user_data_is_a_secret(run: StackRun) -> None:
    for node in ("master", "worker1", "worker2"):
        instance = named(run, INSTANCE, node)
        assert revealed(instance.inputs["userData"])[1], f"{instance}: user-data is not a secret"


def test_token_and_ca_key_are_secrets_hash_and_certificate_are_not() -> None:
    import pulumi

    from components.kubernetes import ClusterCredentials

    def program() -> None:
        creds = ClusterCredentials("c")
        pulumi.export("token", creds.bootstrap_token)
        pulumi.export("caKey", creds.ca_key_pem)
        pulumi.export("caHash", creds.ca_cert_hash)
        pulumi.export("caCert", creds.ca_cert_pem)

    run = run_function(program)
    assert run.secret_outputs == {"token", "caKey"}
    assert TOKEN_RE.match(run.outputs["token"]), run.outputs["token"]
    public = run.one("tls:index/privateKey:PrivateKey").state["publicKeyPem"]
    assert run.outputs["caHash"] == ca_cert_hash(public)
    cert = run.one("tls:index/selfSignedCert:SelfSignedCert")
    assert cert.inputs["validityPeriodHours"] == 87600
    assert cert.inputs["earlyRenewalHours"] == 0  # never replaced behind the cluster's back
    assert "cert_signing" in cert.inputs["allowedUses"]


def test_shipped_stack_exports_no_secret(run: StackRun) -> None:
    assert run.secret_outputs == set()


def test_workers_join_the_masters_private_address_with_the_ca_pinned(
    run: StackRun, shipped: dict
) -> None:
    master_ip = shipped[K + "nodes"]["master"]["fixedIp"]
    public_key = run.one("tls:index/privateKey:PrivateKey").state["publicKeyPem"]
    for worker in shipped[K + "nodes"]["workers"]:
        join = kubeadm_docs(run, worker["name"])["JoinConfiguration"]
        discovery = join["discovery"]["bootstrapToken"]
        assert discovery["apiServerEndpoint"] == f"{master_ip}:6443"
        assert discovery["caCertHashes"] == [ca_cert_hash(public_key)]
        assert "unsafeSkipCAVerification" not in discovery
        env = written(run, worker["name"], "/etc/cloudlabs/kubernetes.env")
        assert f"MASTER_IP={master_ip}\n" in env
        assert f"NODE_IP={worker['fixedIp']}\n" in env


def test_master_uses_the_stacks_ca_and_advertises_its_private_address(
    run: StackRun, shipped: dict
) -> None:
    master_ip = shipped[K + "nodes"]["master"]["fixedIp"]
    k8s = shipped[K + "kubernetes"]
    docs = kubeadm_docs(run, "master")
    init, cluster = docs["InitConfiguration"], docs["ClusterConfiguration"]
    assert init["apiVersion"] == "kubeadm.k8s.io/v1beta4"  # 1.31
    assert init["localAPIEndpoint"]["advertiseAddress"] == master_ip
    assert kubelet_args(init["nodeRegistration"]) == {"node-ip": master_ip}
    assert cluster["kubernetesVersion"] == f"v{k8s['version']}"
    assert cluster["networking"] == {
        "podSubnet": k8s["podCidr"],
        "serviceSubnet": k8s["serviceCidr"],
    }
    assert docs["KubeletConfiguration"]["cgroupDriver"] == "systemd"
    key = run.one("tls:index/privateKey:PrivateKey").state["privateKeyPem"]
    cert = run.one("tls:index/selfSignedCert:SelfSignedCert")
    assert written(run, "master", "/etc/cloudlabs/pki/ca.key") == key
    assert written(run, "master", "/etc/cloudlabs/pki/ca.crt") == cert.state["certPem"]
    assert cert.inputs["isCaCertificate"] is True
    assert revealed(cert.inputs["privateKeyPem"]) == (key, True)
    files = {f["path"]: f for f in user_data(run, "master")["write_files"]}
    assert files["/etc/cloudlabs/pki/ca.key"]["permissions"] == "0600"
    assert files["/etc/cloudlabs/kubeadm.yaml"]["permissions"] == "0600"


def test_master_installs_the_pinned_versions_and_calico(run: StackRun, shipped: dict) -> None:
    k8s = shipped[K + "kubernetes"]
    env = written(run, "master", "/etc/cloudlabs/kubernetes.env")
    assert "K8S_APT_REPO=https://pkgs.k8s.io/core:/stable:/v1.31/deb/\n" in env
    assert f"K8S_PACKAGE_VERSION={k8s['version']}-1.1\n" in env
    assert f"CONTAINERD_VERSION={k8s['containerdVersion']}\n" in env
    assert f"CALICO_MANIFEST_URL={k8s['calicoManifestUrl']}\n" in env
    assert f"POD_CIDR={k8s['podCidr']}\n" in env
    assert "CALICO_ENCAPSULATION=ipip\n" in env
    assert "EXPECTED_NODES=3\n" in env
    assert f"READY_TIMEOUT={k8s['readyTimeoutMinutes'] * 60}\n" in env


def test_every_node_turns_swap_off_loads_modules_sets_sysctls_and_runs_bootstrap(
    run: StackRun,
) -> None:
    script = ROOT / "scripts/kubernetes/bootstrap.sh"
    for node in ("master", "worker1", "worker2"):
        data = user_data(run, node)
        modules = written(run, node, "/etc/modules-load.d/kubernetes.conf").split()
        assert modules == ["overlay", "br_netfilter"]
        sysctl = written(run, node, "/etc/sysctl.d/99-kubernetes.conf")
        for key in ("net.bridge.bridge-nf-call-iptables", "net.ipv4.ip_forward"):
            assert f"{key} = 1\n" in sysctl
        assert written(run, node, "/usr/local/sbin/cloudlabs-k8s-bootstrap") == script.read_text()
        assert data["runcmd"] == [["/usr/local/sbin/cloudlabs-k8s-bootstrap"]]
    assert "swapoff -a" in script.read_text()


def test_worker_labels_as_specified(run: StackRun) -> None:
    wanted = {"worker1": "PoP=space_1", "worker2": "PoP=space_2"}
    for worker, label in wanted.items():
        join = kubeadm_docs(run, worker)["JoinConfiguration"]
        args = kubelet_args(join["nodeRegistration"])
        assert args["node-labels"] == label
        assert args["node-ip"] == {"worker1": "192.168.50.11", "worker2": "192.168.50.12"}[worker]
        assert join["nodeRegistration"]["name"] == worker


def app_objects(run: StackRun) -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all(written(run, "master", "/etc/cloudlabs/app.yaml"))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def test_app_deployment_and_services_as_specified(run: StackRun, shipped: dict) -> None:
    app = shipped[K + "app"]
    objects = app_objects(run)
    name = app["name"]
    assert sorted(objects) == [
        f"Deployment/{name}",
        f"Service/{name}-clusterip-service",
        f"Service/{name}-nodeport-service",
    ]
    deploy = objects[f"Deployment/{name}"]["spec"]
    assert deploy["replicas"] == 3
    pod = deploy["template"]["spec"]
    assert pod["containers"][0]["image"] == app["image"]
    assert pod["containers"][0]["ports"][0]["containerPort"] == 5000
    assert pod["nodeSelector"] == {"PoP": "space_1"}
    cluster_ip = objects[f"Service/{name}-clusterip-service"]["spec"]
    assert cluster_ip["type"] == "ClusterIP"
    assert cluster_ip["selector"] == deploy["template"]["metadata"]["labels"] == {"app": name}
    assert [(p["port"], p["targetPort"]) for p in cluster_ip["ports"]] == [(80, 5000)]
    node_port = objects[f"Service/{name}-nodeport-service"]["spec"]
    assert node_port["type"] == "NodePort"
    assert [(p["port"], p["targetPort"], p["nodePort"]) for p in node_port["ports"]] == [
        (80, 5000, 30080)
    ]
    env = written(run, "master", "/etc/cloudlabs/kubernetes.env")
    assert f"APP_NAME={name}\n" in env


def test_rendered_user_data_passes_cloud_init_schema(run: StackRun) -> None:
    for node in ("master", "worker1", "worker2"):
        assert_cloud_config_valid(user_data_text(run, node), f"{node}-user-data")


def test_rendered_app_manifest_passes_kubernetes_validate(run: StackRun, shipped: dict) -> None:
    version = shipped[K + "kubernetes"]["version"]
    documents = list(yaml.safe_load_all(written(run, "master", "/etc/cloudlabs/app.yaml")))
    assert len(documents) == 3
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)  # raises when invalid


def test_outputs_say_how_to_reach_the_cluster(run: StackRun) -> None:
    out = run.outputs
    assert set(out) == {
        "masterPrivateIp",
        "floatingIps",
        "sshCommands",
        "clusterReadyCommand",
        "kubeconfigCommand",
        "nodePortUrls",
        "restored",
    }
    assert out["restored"] == {}
    fips = out["floatingIps"]
    assert sorted(fips) == ["master", "worker1", "worker2"]
    assert len(set(fips.values())) == 3
    assert out["sshCommands"] == {name: f"ssh ubuntu@{ip}" for name, ip in fips.items()}
    assert out["nodePortUrls"] == {w: f"http://{fips[w]}:30080/" for w in ("worker1", "worker2")}
    master = fips["master"]
    command = out["kubeconfigCommand"]
    assert command.startswith(f"ssh ubuntu@{master} 'sudo cat /etc/kubernetes/admin.conf' > ")
    assert f"--server https://{master}:6443 --tls-server-name kubernetes" in command
    assert out["masterPrivateIp"] == "192.168.50.10"


def test_every_child_is_parented_to_its_component(run: StackRun) -> None:
    for res in run.resources:
        if not res.type.startswith("cloudlabs:"):
            assert res.parent is not None and "cloudlabs:" in res.parent, res
            component = res.parent.rsplit("::", 1)[-1]
            assert res.name.startswith(f"{component}-"), res


def test_nodes_are_named_by_role_and_keep_their_state_through_an_alias(run: StackRun) -> None:
    servers = {r.name: r for r in run.of_type("cloudlabs:openstack:Server")}
    assert sorted(servers) == ["k8s-master", "k8s-worker-worker1", "k8s-worker-worker2"]
    aliases = {name: [a["spec"]["name"] for a in r.options.get("aliases", [])]
               for name, r in servers.items()}  # fmt: skip
    # Earlier versions named them k8s-<node name>; the engine follows their children by prefix.
    assert aliases == {
        "k8s-master": [],
        "k8s-worker-worker1": ["k8s-worker1"],
        "k8s-worker-worker2": ["k8s-worker2"],
    }


def test_a_node_called_like_a_part_of_the_lab_is_no_trouble(shipped: dict) -> None:
    config = changed(
        shipped,
        change("nodes", "workers", 0, "name", value="key"),
        change("app", "nodeSelector", value={}),
    )
    run = run_program(config)
    assert run.one("cloudlabs:openstack:Server", "k8s-worker-key")
    assert run.one("cloudlabs:openstack:Keypair", "k8s-key")
