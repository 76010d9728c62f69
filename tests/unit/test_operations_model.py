"""The one snapshots/restore model, checked on its own (every lab's machines share it)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from stacks.shared.errors import ConfigError
from stacks.shared.operations import (
    SUPPORT,
    CloudMachine,
    MachinePlatform,
    SnapshotConfig,
    Snapshotted,
)
from stacks.shared.types import Name
from stacks.shared.validation import LabModel, validate_config


def machine(platform: MachinePlatform) -> type[LabModel]:
    base = CloudMachine if platform == "openstack" else Snapshotted

    class Machine(base):  # type: ignore[valid-type,misc]
        PLATFORM: ClassVar[MachinePlatform] = platform
        name: Name

    class Lab(LabModel):
        vms: list[Machine]

    return Lab


def problems(platform: MachinePlatform, vm: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_config("t", machine(platform), {"vms": [{"name": "a"}, {"name": "b", **vm}]})
    return {p.location: p.render() for p in caught.value.problems}


def test_a_machine_without_snapshots_is_valid() -> None:
    lab = validate_config("t", machine("libvirt"), {"vms": [{"name": "a"}]})
    vm = lab.vms[0]  # type: ignore[attr-defined]
    assert vm.snapshots == [] and vm.restore is None and vm.restore_snapshot() is None


def test_snapshots_and_restore_are_read() -> None:
    raw = {
        "name": "a",
        "snapshots": [{"name": "clean", "description": "fresh"}, {"name": "later"}],
        "restore": {"snapshot": "clean", "generation": 2},
    }
    vm = validate_config("t", machine("virtualbox"), {"vms": [raw]}).vms[0]  # type: ignore[attr-defined]
    assert [s.name for s in vm.snapshots] == ["clean", "later"]
    assert vm.restore.generation == 2 and vm.restore_snapshot().description == "fresh"


def test_every_problem_is_reported_at_once_with_its_key() -> None:
    found = problems(
        "libvirt",
        {
            "snapshots": [{"name": "s1", "live": True}, {"name": "s1"}, {"name": "bad name"}],
            "restore": {"snapshot": "nope", "generation": 0, "mode": "replace"},
        },
    )
    assert set(found) == {
        "vms[1].snapshots[0].live",
        "vms[1].snapshots[1].name",
        "vms[1].snapshots[2].name",
        "vms[1].restore.snapshot",
        "vms[1].restore.generation",
        "vms[1].restore.mode",
    }, found
    assert "libvirt has no live snapshots" in found["vms[1].snapshots[0].live"]
    assert "already the name of snapshots[0]" in found["vms[1].snapshots[1].name"]


def test_restore_names_a_declared_snapshot_and_a_mode_only_on_openstack() -> None:
    found = problems(
        "docker",
        {
            "snapshots": [{"name": "s1"}],
            "restore": {"snapshot": "s2", "generation": 1, "mode": "rebuild"},
        },
    )
    assert set(found) == {"vms[1].restore.snapshot", "vms[1].restore.mode"}, found
    assert "snapshots: s1" in found["vms[1].restore.snapshot"]
    assert "unknown key" in found["vms[1].restore.mode"]
    ok = {
        "name": "a",
        "snapshots": [{"name": "s1"}],
        "restore": {"snapshot": "s1", "generation": 1, "mode": "replace"},
    }
    validate_config("t", machine("openstack"), {"vms": [ok]})


def test_unknown_keys_and_multi_line_descriptions_are_rejected() -> None:
    found = problems("docker", {"snapshots": [{"name": "s", "descr": "x", "description": "a\nb"}]})
    assert set(found) == {"vms[1].snapshots[0].descr", "vms[1].snapshots[0].description"}, found


@pytest.mark.parametrize("platform", sorted(SUPPORT))
def test_live_is_accepted_exactly_where_the_platform_has_it(platform: MachinePlatform) -> None:
    raw = {"vms": [{"name": "a", "snapshots": [{"name": "s", "live": True}]}]}
    if SUPPORT[platform].live:
        validate_config("t", machine(platform), raw)
    else:
        with pytest.raises(ConfigError, match="no live snapshots"):
            validate_config("t", machine(platform), raw)


def test_a_definition_changes_with_description_and_live_only() -> None:
    base = SnapshotConfig(name="s", description="d")
    assert base.definition() == SnapshotConfig(name="s", description="d").definition()
    assert base.definition() != SnapshotConfig(name="s", description="e").definition()
    assert base.definition() != SnapshotConfig(name="s", description="d", live=True).definition()
