"""The calculator component (``cloudlabs:calculator:*``) in the labs that run it, and the update
of a stack deployed before it existed: every resource is taken over, through its URN or an
alias, by exactly one resource of the new program; nothing is created anew but components.

The old URNs are ``tests/fixtures/urns/<stack>.txt``, the engine URNs of the shipped stacks as
the program declared them before the calculator and the floating IPs were components.
"""

from __future__ import annotations

from functools import cache

import pulumi
import pytest

from calculator.config import OPERATOR_ROLES, ROLES
from components.calculator import (
    Calculator,
    CalculatorArgs,
    CalculatorSettings,
    OnDocker,
    ServiceArgs,
)
from tests.harness import (
    Resource,
    StackRun,
    assert_rejected,
    change,
    changed,
    load_stack_file,
    run_function,
    run_program,
    run_stack_file,
)
from tests.unit.test_openstack_calculator import env_of, instance_of
from tests.urns import engine_urns, fixture, qualified_type, upgrade

CALCULATOR = "cloudlabs:calculator:Calculator"
SERVICE = "cloudlabs:calculator:Service"
CONTAINER = "cloudlabs:docker:Container"
SERVER = "cloudlabs:openstack:Server"
GROUP = "cloudlabs:openstack:SecurityGroup"
FLOATING_IP = "cloudlabs:openstack:FloatingIp"
LABS = {"dev": "dev", "openstack-calculator": "calc", "openstack-naas": "naas"}
"""The labs running the calculator, and the component's name in each."""
UPDATED = (*LABS, "openstack-vm", "openstack-k8s")
"""The stacks whose layout changed: the calculator's, and those with floating IPs."""
NEW_COMPONENTS = {CALCULATOR, SERVICE, FLOATING_IP}


@cache
def shipped(stack: str) -> StackRun:
    return run_stack_file(stack)


def children(run: StackRun, parent: Resource) -> list[Resource]:
    return sorted((r for r in run.resources if r.parent == parent.urn), key=lambda r: r.name)


def short(role: str) -> str:
    return "front" if role == "calculator" else role


@pytest.mark.parametrize("stack", LABS)
def test_the_tree_reads_as_the_lab(stack: str) -> None:
    run = shipped(stack)
    name = LABS[stack]
    calc = run.one(CALCULATOR)
    assert calc.name == name and calc.parent is not None and "pulumi:pulumi:Stack" in calc.parent
    services = [r for r in children(run, calc) if r.type == SERVICE]
    assert sorted(s.name for s in services) == sorted(f"{name}-{short(r)}" for r in ROLES)
    others = [(r.type, r.name) for r in children(run, calc) if r.type != SERVICE]
    if stack == "dev":
        assert others == []
    else:
        assert others == [(GROUP, f"{name}-front-sg"), (GROUP, f"{name}-operators-sg")]
    for service in services:
        (own,) = children(run, service)
        assert (own.type, own.name) == (CONTAINER if stack == "dev" else SERVER, service.name)
        if own.type == SERVER:
            kinds = [r.type for r in children(run, own)]
            front = service.name == f"{name}-front"
            assert kinds == [
                *([FLOATING_IP] if front else []),
                "openstack:compute/instance:Instance",
                "openstack:networking/port:Port",
            ], service
    assert len(run.of_type(FLOATING_IP)) == (0 if stack == "dev" else 1)


def test_the_urns_name_the_lab_the_service_and_the_resource() -> None:
    urns = set(engine_urns(shipped("openstack-calculator"), "openstack-calculator").values())
    chain = (
        "cloudlabs:calculator:Calculator$cloudlabs:calculator:Service$cloudlabs:openstack:Server"
    )
    base = "urn:pulumi:openstack-calculator::cloud-labs::"
    assert {
        f"{base}{chain}$openstack:compute/instance:Instance::calc-sum-instance",
        f"{base}{chain}$cloudlabs:openstack:FloatingIp$"
        "openstack:networking/floatingIpAssociate:FloatingIpAssociate::calc-front-fip-assoc",
        f"{base}cloudlabs:calculator:Calculator$cloudlabs:openstack:SecurityGroup$"
        "openstack:networking/secGroup:SecGroup::calc-front-sg-group",
    } <= urns
    dev = set(engine_urns(shipped("dev"), "dev").values())
    assert (
        "urn:pulumi:dev::cloud-labs::cloudlabs:calculator:Calculator$cloudlabs:calculator:Service"
        "$cloudlabs:docker:Container$docker:index/container:Container::dev-front-container"
    ) in dev


@pytest.mark.parametrize("stack", UPDATED)
def test_every_deployed_resource_is_taken_over_by_exactly_one(stack: str) -> None:
    old = fixture(stack)
    update = upgrade(shipped(stack), stack, old)
    taken = update.taken()
    missing = sorted(set(old) - set(taken))
    assert missing == [], f"deleted by an update: {missing}"
    for urn in old:
        (claim,) = taken[urn]
        assert [c.urn for c in update.claimants(urn)] == [claim.urn], f"{urn} is claimed twice"
        assert claim.resource.type == qualified_type(urn).rsplit("$", 1)[-1], urn
    created = {(c.resource.type, c.resource.name) for c in update.created()}
    assert {kind for kind, _ in created} <= NEW_COMPONENTS, f"created anew: {created}"


def test_without_the_aliases_the_update_would_replace_the_containers() -> None:
    def forget(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        opts = args.opts
        if args.type_ == CONTAINER:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions())
            opts.aliases = None
        return pulumi.ResourceTransformationResult(args.props, opts)

    def program() -> None:
        pulumi.runtime.register_stack_transformation(forget)
        import runpy

        from tests.harness import ROOT

        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    run = run_function(program, load_stack_file("dev"), stack="dev")
    update = upgrade(run, "dev", fixture("dev"))
    created = [c.resource for c in update.created() if not c.resource.type.startswith("cloudlabs:")]
    assert sorted(r.name for r in created) == [
        f"dev-{s}-container" for s in ("div", "front", "mul", "sub", "sum")
    ]
    assert len(set(fixture("dev")) - set(update.taken())) == 10, "5 containers and components"


def test_moved_resources_name_their_old_parent_and_name() -> None:
    run = shipped("dev")
    aliases = {r.name: r.options.get("aliases") for r in run.of_type(CONTAINER)}
    # The front end's container was dev-calculator, directly under the stack.
    assert aliases["dev-front"] == [
        {"spec": {"name": "dev-front", "noParent": True}},
        {"spec": {"name": "dev-calculator", "noParent": True}},
    ]
    assert aliases["dev-sum"] == [{"spec": {"name": "dev-sum", "noParent": True}}]
    # Their children move with them (the engine derives their aliases): none of their own.
    assert not any(
        r.options.get("aliases") for r in run.of_type("docker:index/container:Container")
    )
    update = upgrade(run, "dev", fixture("dev"))
    front = next(c for c in update.claims if c.resource.name == "dev-front-container")
    assert front.takes == (
        "urn:pulumi:dev::cloud-labs::cloudlabs:docker:Container$"
        "docker:index/container:Container::dev-calculator-container"
    )


def _docker_args(**settings: object) -> CalculatorArgs:
    return CalculatorArgs(
        runs_on=OnDocker(image="img", network="net", container_names={r: f"c-{r}" for r in ROLES}),
        settings=CalculatorSettings(**settings),  # type: ignore[arg-type]
    )


def test_a_calculator_inside_another_component_aliases_to_that_parent() -> None:
    def program() -> None:
        lab = pulumi.ComponentResource("cloudlabs:test:Lab", "lab")
        Calculator("calc", _docker_args(), opts=pulumi.ResourceOptions(parent=lab))

    run = run_function(program)
    lab = run.one("cloudlabs:test:Lab")
    sum_container = run.one(CONTAINER, "calc-sum")
    assert sum_container.options["aliases"] == [
        {"spec": {"name": "calc-sum", "parentUrn": lab.urn}}
    ]


def test_services_report_their_addresses_and_the_calculator_its_url() -> None:
    found: dict[str, object] = {}

    def program() -> None:
        calc = Calculator("calc", _docker_args(ports={"sum": 7001}))
        pulumi.export("addresses", calc.addresses)
        pulumi.export("url", calc.url)
        pulumi.export("curl", calc.curl_command)
        pulumi.export("sum", calc.services["sum"].url)
        found["roles"] = {role: s.role for role, s in calc.services.items()}

    run = run_function(program)
    assert run.outputs["addresses"] == {r: f"c-{r}" for r in ROLES}
    assert run.outputs["url"] == "http://127.0.0.1:50000"
    assert run.outputs["curl"] == 'curl -d "(5+6)*2" -X POST http://127.0.0.1:50000'
    assert run.outputs["sum"] == "http://c-sum:7001"
    assert found["roles"] == {r: r for r in ("calculator", *OPERATOR_ROLES)}


def test_settings_and_service_args_refuse_what_the_calculator_does_not_know() -> None:
    with pytest.raises(ValueError, match="pow"):
        CalculatorSettings(ports={"pow": 50005})
    with pytest.raises(ValueError, match="CALC_COLOUR"):
        CalculatorSettings(limits={"CALC_COLOUR": "blue"})
    docker = _docker_args().runs_on
    with pytest.raises(ValueError, match="needs the addresses"):
        ServiceArgs(role="calculator", runs_on=docker, settings=CalculatorSettings())
    with pytest.raises(ValueError, match="unknown role"):
        ServiceArgs(role="pow", runs_on=docker, settings=CalculatorSettings())


# --- limits -----------------------------------------------------------------------------------


def test_limits_reach_every_service() -> None:
    limits = {"CALC_MAX_BODY": 1024, "CALC_READ_TIMEOUT": 2.5}
    dev = run_program(changed(load_stack_file("dev"), change("limits", value=limits)))
    for res in dev.of_type("docker:index/container:Container"):
        env = dict(e.split("=", 1) for e in res.inputs["envs"])
        assert (env["CALC_MAX_BODY"], env["CALC_READ_TIMEOUT"]) == ("1024", "2.5"), res
    config = changed(load_stack_file("openstack-calculator"), change("limits", value=limits))
    run = run_program(config)
    for role in ROLES:
        env = env_of(instance_of(run, config["cloud-labs:services"][role]["name"]), role)
        assert (env["CALC_MAX_BODY"], env["CALC_READ_TIMEOUT"]) == ("1024", "2.5"), role


@pytest.mark.parametrize(("stack", "lab"), [("dev", "dev"), ("openstack-naas", "openstack-naas")])
def test_a_limit_the_calculator_would_refuse_is_rejected(stack: str, lab: str) -> None:
    limits = {"CALC_MAX_BODY": 0, "CALC_COLOUR": 1, "CALC_IDLE_TIMEOUT": 30}
    assert_rejected(
        changed(load_stack_file(stack), change("limits", value=limits)),
        lab,
        [
            ("limits.CALC_MAX_BODY", "must be a finite number >= 1"),
            ("limits.CALC_COLOUR", "not a calculator limit; expected one of CALC_EXPRESSION"),
        ],
    )
