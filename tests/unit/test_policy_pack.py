"""The policy pack (policy/): every shipped stack passes it; each rule catches a crafted violation.

Stacks and crafted programs run under the mocks harness; their recorded resources are evaluated
by the pack's own policies through pulumi_policy's types (tests/policy_run.py). A violation
must name the rule and the URN of the resource at fault.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_openstack as openstack
import pytest

from cloudlabs_policy import build_policies
from cloudlabs_policy.guests import (
    CONTAINERS_LOCKED_DOWN,
    NODE_PORTS_IN_RANGE,
    USER_DATA_SIZE,
    VM_SSH_KEY_ONLY,
)
from cloudlabs_policy.network import BACKENDS_NOT_EXPOSED, WORLD_INGRESS, instance_tier
from cloudlabs_policy.outputs import NO_SECRETS_IN_OUTPUTS
from cloudlabs_policy.stack_config import StackConfig, secure_paths
from components.docker import Container, ContainerArgs, PortSpec
from components.kubernetes.manifests import AppSpec, render_manifests
from components.openstack import (
    RuleSpec,
    SecurityGroup,
    SecurityGroupArgs,
    Server,
    ServerArgs,
)
from components.renderers.cloudinit import File, Files, Hostname, Login, render_user_data
from tests.harness import (
    ROOT,
    change,
    load_stack_file,
    run_function,
    run_program,
    run_stack_file,
)
from tests.policy_run import (
    Violation,
    config_of,
    evaluate,
    evaluate_shipped,
    policy_resources,
    stack_urn,
)

SHIPPED = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINKN3symUEbaKaD/iPDeWDev+HgCQcEgKufGH8Cz9EJp t@e"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
GROUP = "openstack:networking/secGroup:SecGroup"
INSTANCE = "openstack:compute/instance:Instance"
ASSOC = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
CONTAINER = "docker:index/container:Container"
SERVICE = "cloudlabs:calculator:Service"
OPERATORS = ("sum", "sub", "mul", "div")
NO_CONFIG = StackConfig()


def crafted(program: Callable[[], None], config: StackConfig = NO_CONFIG) -> list[Violation]:
    run = run_function(program, stack="crafted")
    return evaluate(run, "crafted", config)


def _server(name: str, **kwargs: Any) -> None:
    Server(
        name,
        ServerArgs(
            server_name=name,
            image_name="img",
            flavor_name="small",
            network_id="net",
            subnet_id="subnet",
            **kwargs,
        ),
    )


def of_rule(found: list[Violation], rule: str) -> list[Violation]:
    return [v for v in found if v.policy == rule]


def mutated(stack: str, *changes: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = copy.deepcopy(load_stack_file(stack))
    for apply in changes:
        apply(config)
    return config


def test_the_pack_names_each_rule_once_with_a_level() -> None:
    policies = build_policies(lambda: NO_CONFIG)
    names = [p.name for p in policies]
    assert len(names) == len(set(names)) == 7
    assert all(p.enforcement_level is not None and p.description for p in policies)


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_shipped_stack_passes_the_pack(stack: str) -> None:
    found = evaluate_shipped(stack)
    assert found == [], "\n".join(map(str, found))


def test_the_stack_resource_carries_the_outputs_and_links() -> None:
    run = run_stack_file("openstack-calculator")
    resources = policy_resources(run, "openstack-calculator")
    root = resources[0]
    assert root.urn == stack_urn("openstack-calculator")
    assert root.props["url"].startswith("http://203.0.113.")
    rule = next(r for r in resources if r.resource_type == RULE)
    assert [g.resource_type for g in rule.property_dependencies["securityGroupId"]] == [
        "openstack:networking/secGroup:SecGroup"
    ]
    # Each server declares its tier in its metadata: the operators are back ends.
    tiers = {r.name: instance_tier(r, resources) for r in resources if r.resource_type == INSTANCE}
    assert tiers == {
        "calc-front-instance": ("frontend", "its metadata cloudlabs.tier"),
        **{
            f"calc-{op}-instance": ("backend", "its metadata cloudlabs.tier")
            for op in ("sum", "sub", "mul", "div")
        },
    }


def test_the_packs_names_are_the_ones_the_components_write() -> None:
    from cloudlabs_policy import conventions
    from components import declarations

    for name in ("PUBLIC_TAG", "PUBLIC_LABEL", "TIER_KEY", "TIER_LABEL", "ROLE_LABEL"):
        assert getattr(declarations, name) == getattr(conventions, name), name
    assert (declarations.BACKEND, declarations.FRONTEND) == (
        conventions.BACKEND,
        conventions.FRONTEND,
    )
    assert declarations.WORLD_HOSTS == conventions.WORLD_HOSTS


# --- world-ingress-only-to-declared-ports ---------------------------------------------------


def _group(rules: list[RuleSpec]) -> Callable[[], None]:
    def program() -> None:
        SecurityGroup("lab-sg", SecurityGroupArgs("lab", "a lab group", rules))

    return program


def test_world_ingress_not_stated_in_config_is_reported() -> None:
    program = _group([RuleSpec("tcp", 3306, 3306, remote_cidr="0.0.0.0/0", description="db")])
    found = of_rule(crafted(program), WORLD_INGRESS)
    assert [(v.urn.rsplit("::", 1)[1], v.level.value) for v in found] == [
        ("lab-sg-rule-0", "mandatory")
    ]
    assert "tcp:3306 is open to 0.0.0.0/0" in found[0].message
    # Stated explicitly by the stack's config, the same rule is the stack's choice.
    stated = config_of({"accessCidr": "0.0.0.0/0"})
    assert of_rule(crafted(program, stated), WORLD_INGRESS) == []


def test_a_rule_with_no_remote_at_all_is_open_to_anyone() -> None:
    def program() -> None:
        group = openstack.networking.SecGroup("open", name="open")
        openstack.networking.SecGroupRule(
            "open-any",
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            ethertype="IPv4",
            port_range_min=80,
            port_range_max=80,
        )

    found = of_rule(crafted(program, config_of({"accessCidr": "0.0.0.0/0"})), WORLD_INGRESS)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["open-any"]
    assert "any address" in found[0].message


def _tagged_group(tags: list[str], ports: list[tuple[str, int | None]]) -> Callable[[], None]:
    def program() -> None:
        group = openstack.networking.SecGroup("front", name="front", tags=tags)
        for i, (protocol, port) in enumerate(ports):
            openstack.networking.SecGroupRule(
                f"front-{protocol}-{port or 'any'}-{i}",
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                protocol=protocol,
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
            )

    return program


def test_declared_public_ports_are_read_from_the_groups_tags() -> None:
    program = _tagged_group(
        ["cloudlabs.public=tcp:50000", "cloudlabs.public=tcp:1-65535"],
        [("tcp", 50000), ("tcp", 8080), ("tcp", 22), ("icmp", None)],
    )
    # Stated in config or not: once resources declare, the declarations decide.
    found = of_rule(crafted(program, config_of({"adminCidr": "0.0.0.0/0"})), WORLD_INGRESS)
    assert sorted(v.urn.rsplit("::", 1)[1] for v in found) == ["front-icmp-any-3", "front-tcp-22-2"]
    assert all("declared on their own" in v.message for v in found)
    allowed = _tagged_group(
        ["cloudlabs.public=tcp:22", "cloudlabs.public=icmp"], [("tcp", 22), ("icmp", None)]
    )
    assert of_rule(crafted(allowed), WORLD_INGRESS) == []


Transform = Callable[[str, str, dict[str, Any]], None]


def _transformed(stack: str, config: dict[str, Any], transform: Transform) -> list[Violation]:
    """``stack`` run with ``config``, each resource's props passed through ``transform(type,
    name, props)`` before it is registered, then evaluated with that config."""

    def change_props(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult:
        props = dict(args.props)
        transform(args.type_, args.name, props)
        return pulumi.ResourceTransformationResult(props, args.opts)

    def program() -> None:
        pulumi.runtime.register_stack_transformation(change_props)
        import runpy

        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    run = run_function(program, config, stack=stack)
    secrets = secure_paths(ROOT / f"Pulumi.{stack}.yaml")
    return evaluate(run, stack, config_of(config, secrets))


def test_the_calculator_groups_declare_their_public_ports() -> None:
    run = run_stack_file("openstack-calculator")
    tags = {g.name: g.inputs.get("tags") for g in run.of_type(GROUP)}
    # adminCidr is 0.0.0.0/0: SSH and ICMP to the front end are meant to be world-open.
    assert tags == {
        "calc-front-sg-group": [
            "cloudlabs.public=tcp:50000",
            "cloudlabs.public=tcp:22",
            "cloudlabs.public=icmp",
        ],
        "calc-operators-sg-group": None,
    }
    narrow = mutated("openstack-calculator", change("adminCidr", value="198.51.100.0/24"))
    run = run_program(narrow, stack="openstack-calculator")
    front = next(g for g in run.of_type(GROUP) if g.name == "calc-front-sg-group")
    assert front.inputs["tags"] == ["cloudlabs.public=tcp:50000"]
    assert evaluate(run, "openstack-calculator", config_of(narrow)) == []


def test_once_a_stack_declares_ssh_and_icmp_must_be_declared_on_their_own() -> None:
    """openstack-calculator with its front end's group declaring only the calculator port:
    SSH and ICMP open to adminCidr 0.0.0.0/0 are reported, though the config states it."""

    def port_only(type_: str, name: str, props: dict[str, Any]) -> None:
        if type_ == GROUP and name == "calc-front-sg-group":
            props["tags"] = ["cloudlabs.public=tcp:50000"]

    config = load_stack_file("openstack-calculator")
    found = of_rule(_transformed("openstack-calculator", config, port_only), WORLD_INGRESS)
    assert sorted(v.urn.rsplit("::", 1)[1] for v in found) == [
        "calc-front-sg-rule-1",
        "calc-front-sg-rule-2",
    ]


def test_a_container_port_published_on_every_address() -> None:
    def program() -> None:
        Container(
            "web",
            ContainerArgs(
                container_name="web", image="img", ports=(PortSpec(80, 8080, host_ip="0.0.0.0"),)
            ),
        )

    found = of_rule(crafted(program), WORLD_INGRESS)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["web-container"]
    assert "published on 0.0.0.0:8080" in found[0].message
    # docker-basics with ct2 published on 0.0.0.0, as its config says explicitly: accepted.
    config = mutated("docker-basics", change("ct2", "hostIp", value="0.0.0.0"))
    run = run_program(config, stack="docker-basics")
    assert of_rule(evaluate(run, "docker-basics", config_of(config)), WORLD_INGRESS) == []


# --- backends-never-exposed -------------------------------------------------------------------


def test_an_operator_with_a_floating_ip_is_reported() -> None:
    def program() -> None:
        front = SecurityGroup(
            "front-sg",
            SecurityGroupArgs(
                "front", "front", [RuleSpec("tcp", 50000, remote_cidr="203.0.113.0/24")]
            ),
        )
        operators = SecurityGroup(
            "ops-sg",
            SecurityGroupArgs(
                "ops", "operators", [RuleSpec("tcp", 50001, remote_group_id=front.group_id)]
            ),
        )
        for name, group in (("front", front), ("sum", operators)):
            _server(
                name,
                security_group_ids=[group.group_id],
                key_pair="key",
                floating_ip_pool="public",
            )

    found = of_rule(crafted(program), BACKENDS_NOT_EXPOSED)
    assert [v.urn for v in found] == [
        "urn:pulumi:crafted::cloud-labs::cloudlabs:openstack:FloatingIp$"
        + ASSOC
        + "::sum-fip-assoc"
    ]
    assert "sum, a back end" in found[0].message and "ops" in found[0].message


def test_the_tier_in_an_instances_metadata_wins() -> None:
    def program() -> None:
        port = openstack.networking.Port("db-port", network_id="net")
        openstack.compute.Instance(
            "db",
            name="db",
            key_pair="key",
            metadata={"cloudlabs.tier": "backend"},
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
        )
        fip = openstack.networking.FloatingIp("db-fip", pool="public")
        openstack.networking.FloatingIpAssociate(
            "db-assoc", floating_ip=fip.address, port_id=port.id
        )

    found = of_rule(crafted(program), BACKENDS_NOT_EXPOSED)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["db-assoc"]
    assert "metadata cloudlabs.tier" in found[0].message


def test_a_back_end_container_publishing_a_port_is_reported() -> None:
    def program() -> None:
        Container(
            "sum",
            ContainerArgs(
                container_name="sum",
                image="img",
                user="10001:10001",
                read_only=True,
                ports=(PortSpec(50001, 50001),),
                labels={"org.cloudlabs.role": "sum", "org.cloudlabs.tier": "backend"},
            ),
        )

    found = crafted(program)
    assert [(v.policy, v.urn.rsplit("::", 1)[1]) for v in found] == [
        (BACKENDS_NOT_EXPOSED, "sum-container")
    ]


def _labels(res: Any) -> dict[str, str]:
    return {entry["label"]: entry["value"] for entry in res.inputs["labels"]}


def _declared(run: Any) -> dict[str, dict[str, str]]:
    """Each dev Service's ``declared_labels`` property, by the Service's name."""
    return {s.name: s.inputs["declared_labels"] for s in run.of_type(SERVICE)}


def test_devs_containers_declare_their_role_and_tier() -> None:
    run = run_stack_file("dev")
    # The containers keep the labels they had before their Services existed (a new label
    # would replace them); each Service declares its container's tier.
    assert {c.name: _labels(c) for c in run.of_type(CONTAINER)} == {
        f"dev-{role}-container": {"org.cloudlabs.lab": "dev", "org.cloudlabs.role": label}
        for role, label in (("front", "calculator"), *((op, op) for op in OPERATORS))
    }
    assert _declared(run) == {
        "dev-front": {"org.cloudlabs.tier": "frontend"},
        **{f"dev-{op}": {"org.cloudlabs.tier": "backend"} for op in OPERATORS},
    }


def test_an_operator_container_declared_a_back_end_may_not_publish() -> None:
    def publish_sum(type_: str, name: str, props: dict[str, Any]) -> None:
        if type_ == CONTAINER and name == "dev-sum-container":
            props["ports"] = [{"internal": 50001, "external": 50001, "ip": "127.0.0.1"}]

    found = _transformed("dev", load_stack_file("dev"), publish_sum)
    assert [(v.policy, v.urn.rsplit("::", 1)[1]) for v in found] == [
        (BACKENDS_NOT_EXPOSED, "dev-sum-container")
    ]
    assert "org.cloudlabs.tier=backend" in found[0].message


def test_devs_front_end_published_on_every_address_declares_its_port() -> None:
    config = mutated("dev", change("publish", "hostIp", value="0.0.0.0"))
    run = run_program(config, stack="dev")
    assert _declared(run)["dev-front"]["org.cloudlabs.public"] == "50000/tcp"
    assert evaluate(run, "dev", config_of(config)) == []

    # Declared, the label decides: another port on every address is not covered by it.
    def second_port(type_: str, name: str, props: dict[str, Any]) -> None:
        if type_ == CONTAINER and name == "dev-front-container":
            extra = {"internal": 22, "external": 2222, "ip": "0.0.0.0"}
            props["ports"] = [*props["ports"], extra]

    found = of_rule(_transformed("dev", config, second_port), WORLD_INGRESS)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["dev-front-container"]
    assert "container port tcp:22" in found[0].message and "declares tcp:50000" in found[0].message


def test_a_servers_declared_tier_wins_over_its_groups() -> None:
    def program() -> None:
        open_group = SecurityGroup(
            "open-sg",
            SecurityGroupArgs("open", "open", [RuleSpec("tcp", 80, remote_cidr="0.0.0.0/0")]),
        )
        closed = SecurityGroup(
            "closed-sg",
            SecurityGroupArgs(
                "closed", "closed", [RuleSpec("tcp", 80, remote_group_id=open_group.group_id)]
            ),
        )
        # db is reachable from addresses (no back end by its groups), declared a back end all
        # the same; web only from a group (a back end by its groups), declared the front end.
        for name, group, tier in (("db", open_group, "backend"), ("web", closed, "frontend")):
            _server(
                name,
                security_group_ids=[group.group_id],
                key_pair="key",
                floating_ip_pool="public",
                metadata={"cloudlabs.tier": tier},
            )

    found = of_rule(crafted(program, config_of({"accessCidr": "0.0.0.0/0"})), BACKENDS_NOT_EXPOSED)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["db-fip-assoc"]
    assert "its metadata cloudlabs.tier" in found[0].message


# --- service-containers-non-root-read-only --------------------------------------------------


def test_dev_with_a_writable_root_filesystem_is_reported_per_container() -> None:
    config = mutated("dev", change("readOnly", value=False))
    found = of_rule(
        evaluate(run_program(config, stack="dev"), "dev", config_of(config)), CONTAINERS_LOCKED_DOWN
    )
    assert sorted(v.urn.rsplit("::", 1)[1] for v in found) == [
        f"dev-{role}-container" for role in ("div", "front", "mul", "sub", "sum")
    ]
    assert all("writable" in v.message for v in found)


def test_a_service_container_running_as_root_or_as_its_image_user() -> None:
    def program() -> None:
        labels = {"org.cloudlabs.role": "worker"}
        Container("as-root", ContainerArgs("a", "img", user="0:0", read_only=True, labels=labels))
        Container("as-image", ContainerArgs("b", "img", read_only=True, labels=labels))
        Container("sandbox", ContainerArgs("c", "img"))  # not a service: no role label

    found = of_rule(crafted(program), CONTAINERS_LOCKED_DOWN)
    assert sorted((v.urn.rsplit("::", 1)[1], v.message.split(" ")[1]) for v in found) == [
        ("as-image-container", "user"),
        ("as-root-container", "runs"),
    ]


# --- outputs-carry-no-config-secrets --------------------------------------------------------


def test_an_output_carrying_a_secret_config_value_is_reported() -> None:
    remote = {
        "host": "vbox-host.lab.example.org",
        "user": "student",
        "privateKey": "k" * 40,
        "hostKey": KEY,
    }
    config = mutated("vbox-nat", change("remoteHost", value=remote))
    run = run_program(config, stack="vbox-nat")
    secret = config_of(config, [("cloud-labs:remoteHost", "host")])
    found = of_rule(evaluate(run, "vbox-nat", secret), NO_SECRETS_IN_OUTPUTS)
    assert [(v.urn, v.message) for v in found] == [
        (
            stack_urn("vbox-nat"),
            "output 'sshCommands' carries the value of the secret config "
            "cloud-labs:remoteHost.host.",
        )
    ]
    # Only the private key secret (as the README says to set it): nothing carries it.
    key_only = config_of(config, [("cloud-labs:remoteHost", "privateKey")])
    assert of_rule(evaluate(run, "vbox-nat", key_only), NO_SECRETS_IN_OUTPUTS) == []


def test_secret_paths_come_from_the_stack_files_secure_entries(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.x.yaml"
    stack_file.write_text(
        "config:\n"
        "  cloud-labs:lab: vbox-nat\n"
        "  cloud-labs:token:\n    secure: AAAB\n"
        "  cloud-labs:remoteHost:\n    host: h\n    privateKey:\n      secure: AAAC\n"
    )
    assert secure_paths(stack_file) == {
        ("cloud-labs:token",),
        ("cloud-labs:remoteHost", "privateKey"),
    }


# --- vms-ssh-key-never-password -------------------------------------------------------------


class _PasswordLogin:
    """A cloud-config part the project never writes: a user logging in with a password."""

    def __init__(self, user: str) -> None:
        self.user = user

    def document(self) -> dict[str, object]:
        return {
            "users": [{"name": self.user, "ssh_authorized_keys": [KEY]}],
            "ssh_pwauth": True,
            "chpasswd": {"users": [1]},
        }


def test_a_vm_without_a_key_or_with_a_password_is_reported() -> None:
    with_password = render_user_data(Hostname("pw"), _PasswordLogin("ubuntu"))

    def program() -> None:
        _server("nokey")
        _server("pw", key_pair="key", user_data=with_password)
        _server("ok", key_pair="key", user_data=render_user_data(Hostname("ok"), Login("u", [KEY])))
        command.local.Command(
            "seed", create="true", environment={"SEED_USER_DATA": "#cloud-config\nhostname: s\n"}
        )

    found = of_rule(crafted(program), VM_SSH_KEY_ONLY)
    assert sorted((v.urn.rsplit("::", 1)[1], v.message.split(":")[0]) for v in found) == [
        ("nokey-instance", "the server gets no SSH key"),
        ("pw-instance", "userData"),
        ("pw-instance", "userData"),
        ("seed", "environment.SEED_USER_DATA"),
    ]


# --- node-ports-in-kubernetes-range ---------------------------------------------------------


def _k8s_user_data(node_port: int, port_range: str | None = None) -> str:
    app = AppSpec("app", "img", node_port=node_port)
    files = [File("/etc/cloudlabs/app.yaml", render_manifests(app))]
    if port_range:
        cluster = (
            "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n"
            f"apiServer:\n  extraArgs:\n    service-node-port-range: {port_range}\n"
        )
        files.append(File("/etc/cloudlabs/kubeadm.yaml", cluster))
    return render_user_data(Hostname("master"), Login("ubuntu", [KEY]), Files(files))


def test_a_node_port_outside_the_range_is_reported() -> None:
    def program() -> None:
        _server("default-range", key_pair="key", user_data=_k8s_user_data(8080))
        _server("own-range", key_pair="key", user_data=_k8s_user_data(8080, "8000-9000"))
        _server("in-range", key_pair="key", user_data=_k8s_user_data(30080))

    found = of_rule(crafted(program), NODE_PORTS_IN_RANGE)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["default-range-instance"]
    expected = "app-nodeport-service asks for NodePort 8080, outside the cluster's range 30000"
    assert expected in found[0].message


# --- user-data-within-nova-limit ------------------------------------------------------------


def test_a_server_with_user_data_over_novas_limit_is_reported() -> None:
    # The labs' own configs stop before this (their user-data is measured first): a program.
    big = render_user_data(Files([File("/etc/big", "#" * 50000)]))
    found = of_rule(crafted(lambda: _server("big", user_data=big)), USER_DATA_SIZE)
    assert [v.urn.rsplit("::", 1)[1] for v in found] == ["big-instance"]
    assert "over Nova's 65535" in found[0].message
