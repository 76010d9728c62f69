"""Every lab that ships cloud-init user-data measures it against the limit of the way it travels,
before anything is created.

The one cloud-init builder (``components/renderers/cloudinit.py``) is made to add a padding
key to every user-data document; a lab that renders user-data with it must then stop with a
config error before any resource is registered: OpenStack's labs at Nova's 65535 bytes (after
base64), VirtualBox's and libvirt's at Linux's limit on the argument or variable the NoCloud
seed's documents travel in (``ARGUMENT_MAX``). Which labs ship user-data is found by running
them, not listed.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import hostexec
from components.calculator_bootstrap import USER_DATA_LIMIT
from components.renderers import cloudinit
from stacks.shared.catalogue import LABS
from tests.config_walk import FULL
from tests.harness import StackRun, rejected, run_program

NOVA = {"openstack-vm", "openstack-calculator", "openstack-naas", "openstack-k8s"}
"""The labs whose user-data goes to Nova (the others' goes into a NoCloud seed ISO)."""


def padded(monkeypatch: pytest.MonkeyPatch, size: int) -> list[int]:
    """Pad every user-data document by ``size`` bytes; the list counts the documents."""
    original = cloudinit.user_data_document
    rendered: list[int] = []

    def document(*parts: Any) -> dict[str, object]:
        doc = original(*parts)
        rendered.append(1)
        return {**doc, "x-padding": "#" * size} if size else doc

    monkeypatch.setattr(cloudinit, "user_data_document", document)
    return rendered


def ships_user_data(name: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    with monkeypatch.context() as patch:
        rendered = padded(patch, 0)
        run_program(FULL[name], stack=name, run=StackRun())
    return bool(rendered)


@pytest.mark.parametrize("name", [entry.name for entry in LABS])
def test_user_data_over_its_limit_stops_the_lab_before_anything(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not ships_user_data(name, monkeypatch):
        assert name not in NOVA
        return
    padded(monkeypatch, 2 * max(USER_DATA_LIMIT, hostexec.ARGUMENT_MAX))
    error = rejected(FULL[name], name, stack=name)
    assert error.problems, error


@pytest.mark.parametrize("name", sorted(NOVA))
def test_user_data_just_over_novas_limit_is_refused(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Base64 makes 3 bytes 4: this padding alone is over the limit once encoded, and well
    # under the NoCloud labs' limit (which accept it: the next test).
    padded(monkeypatch, USER_DATA_LIMIT * 3 // 4 + 10)
    error = rejected(FULL[name], name, stack=name)
    assert "65535" in str(error), error


@pytest.mark.parametrize("name", ["vbox-nat", "vbox-cluster", "libvirt-host"])
def test_a_seed_under_its_limit_is_accepted(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    padded(monkeypatch, USER_DATA_LIMIT)
    assert run_program(FULL[name], stack=name).resources


def test_the_labs_that_ship_user_data_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {entry.name for entry in LABS if ships_user_data(entry.name, monkeypatch)}
    assert NOVA | {"vbox-nat", "vbox-cluster", "libvirt-host"} <= found
