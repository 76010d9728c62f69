"""openstack-k8s building blocks on their own: renderers, the bootstrap script, the CA pin,
security-group rules between members of one group. Each is checked by the real tool that will
consume it (cloud-init, kubernetes-validate, bash, shellcheck, openssl)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from components.kubernetes import (
    AppSpec,
    BootstrapSpec,
    ClusterSpec,
    NodeSpec,
    PackageSpec,
    app_objects,
    ca_cert_hash,
    master_user_data,
    worker_user_data,
)
from components.kubernetes.cloud_init import BOOTSTRAP_SCRIPT, master_env, render_env, worker_env
from components.kubernetes.kubeadm import init_objects, join_objects
from components.openstack import RuleSpec, SecurityGroup, SecurityGroupArgs
from tests.harness import run_function
from tests.validators import assert_cloud_config_valid, assert_shellcheck_clean, require

TOKEN = "abcdef.0123456789abcdef"
MASTER = NodeSpec("master", "192.168.50.10")
WORKER = NodeSpec("worker1", "192.168.50.11", {"PoP": "space_1"})


def cluster(version: str = "1.31.4") -> ClusterSpec:
    return ClusterSpec(version, "172.16.0.0/16", "10.96.0.0/12", MASTER, (WORKER,))


def boot(version: str = "1.31.4", app: AppSpec | None = None) -> BootstrapSpec:
    minor = version.split(".")[1]
    return BootstrapSpec(
        cluster=cluster(version),
        packages=PackageSpec(
            f"https://pkgs.k8s.io/core:/stable:/v1.{minor}/deb/",
            f"{version}-1.1",
            "https://download.docker.com/linux/ubuntu",
            "1.7.25-1",
        ),
        calico_manifest_url="https://example.org/calico/v3.29.1/manifests/calico.yaml",
        calico_encapsulation="vxlan",
        app=app or AppSpec("web", "docker.io/library/nginx:1.27"),
        ssh_user="ubuntu",
        ready_timeout_seconds=600,
    )


@pytest.fixture(scope="module")
def real_ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA made by openssl, and its pin computed the way kubeadm's documentation does it."""
    openssl = require("openssl")
    tmp = tmp_path_factory.mktemp("ca")
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj"]
    files = ["-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.crt")]
    subprocess.run(
        [openssl, *request, "/CN=kubernetes", *files],
        check=True,
        capture_output=True,
    )
    pin = subprocess.run(
        f"{openssl} x509 -pubkey -in ca.crt | {openssl} rsa -pubin -outform der 2>/dev/null"
        f" | {openssl} dgst -sha256 -hex | sed 's/^.* //'",
        shell=True,
        cwd=tmp,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    public = subprocess.run(
        [openssl, "x509", "-pubkey", "-noout", "-in", str(tmp / "ca.crt")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {
        "cert": (tmp / "ca.crt").read_text(),
        "key": (tmp / "ca.key").read_text(),
        "public": public,
        "pin": f"sha256:{pin}",
    }


def test_ca_pin_matches_the_one_openssl_computes(real_ca: dict[str, str]) -> None:
    assert len(real_ca["pin"]) == len("sha256:") + 64
    assert ca_cert_hash(real_ca["public"]) == real_ca["pin"]


@pytest.mark.parametrize(
    "bad", ["", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]
)
def test_ca_pin_needs_a_public_key(bad: str) -> None:
    with pytest.raises(ValueError, match="PEM public key"):
        ca_cert_hash(bad)


def test_kubeadm_config_api_follows_the_release() -> None:
    old = init_objects(cluster("1.30.8"), TOKEN)
    new = join_objects(cluster("1.31.4"), WORKER, TOKEN, "sha256:" + "0" * 64)
    assert old[0]["apiVersion"] == "kubeadm.k8s.io/v1beta3"
    assert old[0]["nodeRegistration"]["kubeletExtraArgs"] == {"node-ip": "192.168.50.10"}
    assert new[0]["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert new[0]["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "node-ip", "value": "192.168.50.11"},
        {"name": "node-labels", "value": "PoP=space_1"},
    ]
    assert [doc["kind"] for doc in new] == ["JoinConfiguration"]


@pytest.mark.parametrize("version", ["1.30.8", "1.31.4"])
def test_user_data_passes_cloud_init_schema(version: str, real_ca: dict[str, str]) -> None:
    spec = boot(version)
    master = master_user_data(spec, TOKEN, real_ca["cert"], real_ca["key"])
    worker = worker_user_data(spec, WORKER, TOKEN, real_ca["pin"])
    assert_cloud_config_valid(master, "master")
    assert_cloud_config_valid(worker, "worker")
    files = {f["path"]: f for f in yaml.safe_load(master)["write_files"]}
    assert files["/etc/cloudlabs/pki/ca.key"]["content"] == real_ca["key"]
    assert "CALICO_ENCAPSULATION=vxlan\n" in files["/etc/cloudlabs/kubernetes.env"]["content"]
    assert real_ca["key"] not in worker


APPS = {
    "plain": AppSpec("web", "docker.io/library/nginx:1.27"),
    "selector-and-command": AppSpec(
        "fastapi-app",
        "docker.io/library/python:3.12-alpine",
        command=("python", "-m", "http.server", "5000"),
        node_selector={"PoP": "space_1"},
        node_port=32767,
    ),
}


@pytest.mark.parametrize("version", ["1.28.15", "1.31.4", "1.37.0"])
@pytest.mark.parametrize("app", list(APPS.values()), ids=list(APPS))
def test_app_manifests_are_valid_kubernetes_objects(app: AppSpec, version: str) -> None:
    objects = app_objects(app)
    assert [o["kind"] for o in objects] == ["Deployment", "Service", "Service"]
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def mutated(path: list[Any], value: Any) -> dict[str, Any]:
    obj = app_objects(APPS["plain"])[0]
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    "obj",
    [
        mutated(["spec", "replicas"], "3"),
        mutated(["spec", "template", "spec", "containers", 0, "ports", 0, "contianerPort"], 1),
        mutated(["spec", "template", "spec", "nodeSelectr"], {"PoP": "space_1"}),
    ],
    ids=["replicas-as-text", "typo-in-port", "typo-in-selector"],
)
def test_the_manifest_validator_rejects_what_kubernetes_would(obj: dict[str, Any]) -> None:
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, "1.31.4", strict=True)


def test_bootstrap_script_is_shellcheck_clean() -> None:
    assert_shellcheck_clean([BOOTSTRAP_SCRIPT], shell="bash")


def bash(script: str, *, env: dict[str, str] | None = None, timeout: int = 30) -> Any:
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; . "{BOOTSTRAP_SCRIPT}"; {script}'],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_env_file_values_survive_the_shell(tmp_path: Path) -> None:
    values = {
        "NODE_NAME": "worker1",
        "HOSTILE": "a b'c\"$(touch pwned)`id`;\\ $HOME",
        "URL": "https://pkgs.k8s.io/core:/stable:/v1.31/deb/",
    }
    (tmp_path / "kubernetes.env").write_text(render_env(values))
    result = subprocess.run(
        ["bash", "-c", '. ./kubernetes.env; printf "%s\\n" "$NODE_NAME" "$HOSTILE" "$URL"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == list(values.values())
    assert not (tmp_path / "pwned").exists()


@pytest.fixture
def fake_kubectl(tmp_path: Path) -> dict[str, str]:
    """A kubectl on PATH that prints ``nodes.txt`` (name and Ready status per line)."""
    tool = tmp_path / "bin" / "kubectl"
    tool.parent.mkdir()
    tool.write_text('#!/bin/sh\n[ -f "$NODES" ] || exit 1\ncat "$NODES"\n')
    tool.chmod(0o755)
    return {"PATH": f"{tool.parent}:/usr/bin:/bin", "NODES": str(tmp_path / "nodes.txt")}


def test_wait_for_nodes_succeeds_once_every_node_is_ready(fake_kubectl: dict[str, str]) -> None:
    Path(fake_kubectl["NODES"]).write_text("master True\nworker1 True\nworker2 True\n")
    result = bash("wait_for_nodes 3 5", env=fake_kubectl)
    assert result.returncode == 0, result.stderr
    assert "3 nodes Ready" in result.stderr


@pytest.mark.parametrize(
    "nodes",
    ["master True\nworker1 True\n", "master True\nworker1 False\nworker2 True\n", None],
    ids=["one-missing", "one-not-ready", "no-api-server"],
)
def test_wait_for_nodes_gives_up_after_its_timeout(
    fake_kubectl: dict[str, str], nodes: str | None
) -> None:
    if nodes is not None:
        Path(fake_kubectl["NODES"]).write_text(nodes)
    started = time.monotonic()
    result = bash("WAIT_INTERVAL=1 wait_for_nodes 3 2", env=fake_kubectl)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "of 3 nodes Ready" in result.stderr
    # bash's SECONDS counts whole seconds since the shell started, so a 2 s deadline can
    # pass after a little more than 1 s; the wait must not end sooner, nor run on.
    assert 1 <= elapsed < 10


CALICO_EXCERPT = """\
          env:
            # Enable IPIP
            - name: CALICO_IPV4POOL_IPIP
              value: "Always"
            # Enable or Disable VXLAN on the default IP pool.
            - name: CALICO_IPV4POOL_VXLAN
              value: "Never"
            # Enable or Disable VXLAN on the default IPv6 IP pool.
            - name: CALICO_IPV6POOL_VXLAN
              value: "Never"
            # The default IPv4 pool to create on startup if none exists. Pod IPs will be
            # chosen from this range. Changing this value after installation will have
            # no effect. This should fall within `--cluster-cidr`.
            # - name: CALICO_IPV4POOL_CIDR
            #   value: "192.168.0.0/16"
            # Disable file logging so `kubectl logs` works.
            - name: CALICO_DISABLE_FILE_LOGGING
              value: "true"
"""


@pytest.mark.parametrize(
    ("mode", "ipip", "vxlan"), [("ipip", "Always", "Never"), ("vxlan", "Never", "Always")]
)
def test_calico_manifest_gets_the_pod_cidr_and_encapsulation(
    tmp_path: Path, mode: str, ipip: str, vxlan: str
) -> None:
    manifest = tmp_path / "calico.yaml"
    manifest.write_text(CALICO_EXCERPT)
    for _ in range(2):  # editing twice gives the same manifest
        result = bash(f"edit_calico_manifest {manifest} 172.16.0.0/16 {mode}")
        assert result.returncode == 0, result.stderr
    env = {e["name"]: e["value"] for e in yaml.safe_load(manifest.read_text())["env"]}
    assert env == {
        "CALICO_IPV4POOL_IPIP": ipip,
        "CALICO_IPV4POOL_VXLAN": vxlan,
        "CALICO_IPV6POOL_VXLAN": "Never",
        "CALICO_IPV4POOL_CIDR": "172.16.0.0/16",
        "CALICO_DISABLE_FILE_LOGGING": "true",
    }


@pytest.mark.parametrize(
    ("text", "args"),
    [
        (CALICO_EXCERPT.replace("CALICO_IPV4POOL_CIDR", "SOMETHING_ELSE"), "172.16.0.0/16 ipip"),
        (CALICO_EXCERPT, "'172.16.0.0/16|x' ipip"),
        (CALICO_EXCERPT, "172.16.0.0/16 gre"),
    ],
    ids=["manifest-changed-upstream", "bad-cidr", "bad-mode"],
)
def test_calico_edit_fails_loudly(tmp_path: Path, text: str, args: str) -> None:
    manifest = tmp_path / "calico.yaml"
    manifest.write_text(text)
    result = bash(f"edit_calico_manifest {manifest} {args}")
    assert result.returncode != 0
    assert "ERROR" in result.stderr


def test_rules_from_the_groups_own_members_and_ip_in_ip() -> None:
    def program() -> None:
        SecurityGroup(
            "cluster",
            SecurityGroupArgs(
                "cluster",
                "nodes",
                rules=[
                    RuleSpec("4", remote_own_group=True),
                    RuleSpec("tcp", 179, remote_own_group=True),
                    RuleSpec("tcp", 22, remote_cidr="198.51.100.0/24"),
                ],
            ),
        )

    run = run_function(program)
    group = run.one("openstack:networking/secGroup:SecGroup")
    rules = {
        r.name: r.inputs for r in run.of_type("openstack:networking/secGroupRule:SecGroupRule")
    }
    assert rules["cluster-rule-0"]["protocol"] == "4"
    assert rules["cluster-rule-0"]["remoteGroupId"] == group.id
    assert "portRangeMin" not in rules["cluster-rule-0"]
    assert rules["cluster-rule-1"]["remoteGroupId"] == group.id
    assert "remoteGroupId" not in rules["cluster-rule-2"]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: RuleSpec("4", 4, remote_own_group=True),
        lambda: RuleSpec("tcp", 22, remote_cidr="0.0.0.0/0", remote_own_group=True),
        lambda: RuleSpec("tcp", 22, remote_group_id="g", remote_own_group=True),
        lambda: RuleSpec("256", remote_own_group=True),
        lambda: RuleSpec("ipip ", remote_own_group=True),
    ],
    ids=["ports-on-ipip", "cidr-and-own", "group-and-own", "protocol-256", "protocol-junk"],
)
def test_rule_spec_rejects_contradictions(bad: Any) -> None:
    with pytest.raises(ValueError):
        bad()


def test_user_data_fits_novas_limit(real_ca: dict[str, str]) -> None:
    master = master_user_data(boot(), TOKEN, real_ca["cert"], real_ca["key"])
    assert len(master.encode()) < 65535, "Nova refuses user-data of 64 KiB or more"


@pytest.mark.parametrize("role", ["master", "worker"])
def test_the_script_finds_every_parameter_it_needs(tmp_path: Path, role: str) -> None:
    spec = boot()
    env = master_env(spec) if role == "master" else worker_env(spec, WORKER)
    (tmp_path / "kubernetes.env").write_text(render_env(env))
    script = 'load_config; printf "%s %s\\n" "$ROLE" "$NODE_NAME"'
    result = bash(script, env={"CLOUDLABS_CONFIG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [role, env["NODE_NAME"]]
    missing = "POD_CIDR" if role == "master" else "CONTAINERD_VERSION"
    del env[missing]
    (tmp_path / "kubernetes.env").write_text(render_env(env))
    result = bash(script, env={"CLOUDLABS_CONFIG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert f"{missing} is not set" in result.stderr
