"""Snapshots and restore of the calculator labs' machines, under the mocks: dev's containers
(images committed from them, a restore re-creating one) and the VMs of openstack-calculator and
openstack-naas (images taken from the server, a rebuild or a replacement). The OpenStack
scripts run against the recording ``openstack`` CLI of the openstack-vm tests, so the exact
commands are checked."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import (
    StackRun,
    assert_rejected,
    differences,
    load_stack_file,
    revealed,
    run_program,
    script_run,
)
from tests.unit.test_docker_operations import assert_committed, assert_restored_from
from tests.unit.test_openstack_operations import calls, run_cmd
from tests.unit.test_openstack_operations import cli as cli  # the fixture

COMMAND = "command:local:Command"
CONTAINER = "docker:index/container:Container"
INSTANCE = "openstack:compute/instance:Instance"
K = "cloud-labs:"
SNAPS = [{"name": "clean", "description": "services up"}, {"name": "hot", "live": True}]
RESTORE = {"snapshot": "clean", "generation": 2}


# --- dev: the five containers ----------------------------------------------------------------


def dev(**containers: Any) -> dict[str, Any]:
    config = load_stack_file("dev")
    config[K + "containers"] = containers
    return config


@pytest.fixture(scope="module")
def declared() -> StackRun:
    return run_program(dev(sum={"snapshots": SNAPS, "restore": RESTORE}), stack="dev")


def test_a_dev_container_s_snapshots_are_commits_taken_once(declared: StackRun) -> None:
    assert_committed(declared, "dev-sum", "cloudlabs-dev-sum", SNAPS)
    assert set(declared.outputs["snapshots"]) == {"sum"}
    assert set(declared.outputs["snapshots"]["sum"]) == {"clean", "hot"}


def test_a_dev_restore_re_creates_the_container_from_the_snapshot(declared: StackRun) -> None:
    container = assert_restored_from(declared, "dev-sum", "cloudlabs-dev-sum", 2)
    labels = {item["label"]: item["value"] for item in container.inputs["labels"]}
    assert labels["org.cloudlabs.role"] == "sum"
    # Everything else of the service stays: its network alias, environment, user, health check.
    plain = run_program(load_stack_file("dev"), stack="dev").one(CONTAINER, "dev-sum-container")
    for key in ("envs", "networksAdvanced", "user", "readOnly", "healthcheck", "hostname"):
        assert container.inputs.get(key) == plain.inputs.get(key), key
    assert declared.outputs["restored"] == {"sum": "clean@2"}
    # The other containers declare nothing and have no snapshot or restore.
    assert not [r for r in declared.resources if r.name.startswith("dev-div-") and "snap" in r.name]


def test_dev_up_twice_changes_nothing_and_a_new_generation_the_restore_only() -> None:
    config = dev(sum={"snapshots": SNAPS, "restore": RESTORE})
    first = run_program(config, stack="dev")
    assert differences(first, run_program(config, stack="dev")) == []
    later = dev(sum={"snapshots": SNAPS, "restore": {**RESTORE, "generation": 3}})
    assert differences(first, run_program(later, stack="dev")) == [
        "inputs of command:local:Command::dev-sum-restore-tag",
        f"inputs of {CONTAINER}::dev-sum-container",
    ]


def test_dev_without_the_keys_declares_what_it_did() -> None:
    plain = run_program(load_stack_file("dev"), stack="dev")
    assert differences(plain, run_program(dev(), stack="dev")) == []
    assert plain.outputs["snapshots"] == {} and plain.outputs["restored"] == {}


def test_dev_bad_declarations_are_rejected_all_at_once() -> None:
    config = dev(
        calculator={"snapshots": [{"name": "a"}, {"name": "a"}]},
        div={"snapshots": [{"name": "b"}], "restore": {"snapshot": "c", "generation": 1}},
        mul={"restore": {"snapshot": "b", "generation": 1, "mode": "replace"}},
        front={"snapshots": []},
    )
    config[K + "containerPrefix"] = "Cloudlabs-Dev"
    assert_rejected(
        config,
        "dev",
        [
            ("containers.calculator.snapshots[1].name", "already the name of snapshots[0]"),
            ("containers.div.restore.snapshot", "names no snapshot"),
            ("containers.mul.restore.snapshot", "names no snapshot"),
            ("containers.mul.restore.mode", "unknown key"),
            ("containers.front", "unknown key"),
            ("containerPrefix", "image repository"),
            ("containerPrefix", "image repository"),
        ],
    )


# --- openstack-calculator and openstack-naas: the five VMs -----------------------------------


def with_services(lab: str, **services: dict[str, Any]) -> dict[str, Any]:
    config = load_stack_file(lab)
    shipped = config.get(K + "services", {})
    config[K + "services"] = {
        **shipped,
        **{role: {**shipped.get(role, {}), **keys} for role, keys in services.items()},
    }
    return config


LABS = {"openstack-calculator": "calc", "openstack-naas": "naas"}


def vm_name(lab: str, role: str) -> str:
    short = "front" if role == "calculator" else role
    return f"{LABS[lab]}-{short}"


@pytest.mark.parametrize("lab", LABS)
def test_a_calculator_vm_s_snapshot_is_an_image_of_the_server(lab: str) -> None:
    config = with_services(lab, sum={"snapshots": SNAPS[:1], "restore": {**RESTORE}})
    config["openstack:authUrl"] = "https://keystone.example.org:5000/v3"
    config["openstack:password"] = "s3cret-pw"
    run = run_program(config, stack=lab, secrets=["openstack:password"])
    prefix = f"{LABS[lab]}-sum"
    instance = run.one(INSTANCE, f"{prefix}-instance")
    snap = run.one(COMMAND, f"{prefix}-snapshot-clean")
    assert script_run(snap.inputs["create"]).script == "scripts/openstack/snapshot.sh"
    env, whole = revealed(snap.inputs["environment"])
    assert whole, "an environment holding a secret is a secret"
    name = vm_name(lab, "sum")
    assert env["SERVER_ID"] == instance.id and env["IMAGE_NAME"] == f"{name}-clean"
    assert env["OS_AUTH_URL"] == "https://keystone.example.org:5000/v3"
    assert env["OS_PASSWORD"] == "s3cret-pw"
    assert run.depends_on(snap, instance)
    restore = run.one(COMMAND, f"{prefix}-restore")
    renv = revealed(restore.inputs["environment"])[0]
    assert renv["MODE"] == "rebuild" and renv["SERVER_ID"] == instance.id
    assert renv["GENERATION"] == "2" and renv["IMAGE_NAME"] == f"{name}-clean"
    assert run.depends_on(restore, snap)
    assert set(instance.options["ignoreChanges"]) == {"imageName", "imageId"}
    assert run.outputs["snapshotImages"] == {name: {"clean": f"{name}-clean"}}
    assert set(run.outputs["restored"]) == {name}
    # The other VMs declare nothing: no command, no credentials handed to them.
    others = [r.name for r in run.resources if r.type == COMMAND and "-snapshot-" in r.name]
    assert others == [f"{prefix}-snapshot-clean"]


@pytest.mark.parametrize("lab", LABS)
def test_the_exact_commands_of_a_calculator_vm(lab: str, cli: dict[str, str]) -> None:
    config = with_services(lab, calculator={"snapshots": SNAPS[:1], "restore": {**RESTORE}})
    run = run_program(config, stack=lab)
    prefix = f"{LABS[lab]}-front"
    name = vm_name(lab, "calculator")
    snap, restore = (
        run.one(COMMAND, f"{prefix}-snapshot-clean"),
        run.one(COMMAND, f"{prefix}-restore"),
    )
    server = run.one(INSTANCE, f"{prefix}-instance").id
    definition = revealed(snap.inputs["environment"])[0]["DEFINITION"]
    taken = run_cmd(snap, "create", cli)
    assert taken.returncode == 0, taken.stderr
    assert calls(cli) == [
        ["image", "list", "--name", f"{name}-clean", "-f", "value", "-c", "ID"],
        ["server", "image", "create", "--name", f"{name}-clean", "--wait",
         "--property", f"cloudlabs_definition={definition}",
         "--property", "cloudlabs_description=services up", "-f", "value", "-c", "id", server],
    ]  # fmt: skip
    restored = run_cmd(restore, "create", cli)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.split() == ["clean", "2", "img-1"]
    assert calls(cli) == [
        ["image", "show", f"{name}-clean", "-f", "value", "-c", "id"],
        ["server", "rebuild", "--image", "img-1", "--wait", server],
    ]
    same = run_cmd(restore, "update", cli, PULUMI_COMMAND_STDOUT=restored.stdout.strip())
    assert same.stdout == restored.stdout and calls(cli) == []
    gone = run_cmd(snap, "delete", cli, PULUMI_COMMAND_STDOUT="img-1")
    assert gone.returncode == 0, gone.stderr
    assert calls(cli) == [
        ["image", "show", "img-1", "-f", "value", "-c", "id"],
        ["image", "delete", "img-1"],
    ]


@pytest.mark.parametrize("lab", LABS)
def test_a_calculator_vm_replaced_from_its_image_keeps_its_port(lab: str) -> None:
    restore = {**RESTORE, "mode": "replace"}
    run = run_program(
        with_services(lab, div={"snapshots": SNAPS[:1], "restore": restore}), stack=lab
    )
    prefix = f"{LABS[lab]}-div"
    instance = run.one(INSTANCE, f"{prefix}-instance")
    lookup = run.one(COMMAND, f"{prefix}-restore")
    assert instance.inputs["imageId"] == lookup.state["stdout"]
    assert instance.inputs["metadata"]["cloudlabs.restore-generation"] == "2"
    assert instance.inputs["metadata"]["cloudlabs.tier"] == "backend"
    port = run.one("openstack:networking/port:Port", f"{prefix}-port")
    assert instance.inputs["networks"] == [{"port": port.id}]
    assert not run.reaches(port, lookup)


@pytest.mark.parametrize("lab", LABS)
def test_calculator_up_twice_changes_nothing_and_a_new_generation_the_restore_only(
    lab: str,
) -> None:
    config = with_services(lab, mul={"snapshots": SNAPS[:1], "restore": RESTORE})
    first = run_program(config, stack=lab)
    assert differences(first, run_program(config, stack=lab)) == []
    later = with_services(
        lab, mul={"snapshots": SNAPS[:1], "restore": {**RESTORE, "generation": 3}}
    )
    assert differences(first, run_program(later, stack=lab)) == [
        f"inputs of command:local:Command::{LABS[lab]}-mul-restore"
    ]
    plain = run_program(load_stack_file(lab), stack=lab)
    assert plain.outputs["snapshotImages"] == {} and plain.outputs["restored"] == {}


@pytest.mark.parametrize("lab", LABS)
def test_calculator_vm_bad_declarations_are_rejected_all_at_once(lab: str) -> None:
    config = with_services(
        lab,
        calculator={"snapshots": [{"name": "a"}, {"name": "a"}]},
        sum={"snapshots": [{"name": "hot", "live": True}]},
        sub={"restore": {"snapshot": "x", "generation": 1, "mode": "move"}},
    )
    assert_rejected(
        config,
        lab,
        [
            ("services.calculator.snapshots[1].name", "already the name of snapshots[0]"),
            ("services.sum.snapshots[0].live", "openstack has no live"),
            ("services.sub.restore.snapshot", "names no snapshot"),
            ("services.sub.restore.mode", "rebuild"),
        ],
    )
