"""``aptMirror``: one config type for the labs that install distribution packages, the URL
alone or ``url`` with a ``key`` (or ``trusted``), in the calculator labs' cloud-init and in
docker-basics' recipes and snapshot, in vbox-cluster's, openstack-k8s' and libvirt-host's
cloud-init."""

from __future__ import annotations

import pytest
import yaml

from stacks.shared.mirror import PackageMirror, PackageMirrorSetting, mirror_variables
from stacks.shared.types import parse_armored_key
from stacks.shared.validation import LabModel, validate_config
from tests.harness import (
    ARMORED_KEY,
    assert_rejected,
    change,
    changed,
    load_stack_file,
    revealed,
    run_program,
)

K = "cloud-labs:"
INSTANCE = "openstack:compute/instance:Instance"
CMD = "command:local:Command"
CALCULATOR_LABS = ("openstack-calculator", "openstack-naas")


class Holder(LabModel):
    """A model with one ``aptMirror`` key, as the labs have."""

    apt_mirror: PackageMirrorSetting = None


def test_the_url_alone_and_the_mapping_are_one_type() -> None:
    short = validate_config("t", Holder, {"aptMirror": "http://deb.debian.org/debian"})
    assert short.apt_mirror == PackageMirror(url="http://deb.debian.org/debian")
    full = validate_config(
        "t", Holder, {"aptMirror": {"url": "http://m/debian", "key": ARMORED_KEY}}
    )
    assert full.apt_mirror is not None and full.apt_mirror.key == ARMORED_KEY
    assert validate_config("t", Holder, {}).apt_mirror is None


def test_the_key_is_kept_as_armoured_text_with_a_final_newline() -> None:
    assert parse_armored_key(ARMORED_KEY.replace("\n", "\r\n") + "\r\n") == ARMORED_KEY
    with pytest.raises(ValueError, match="armoured"):
        parse_armored_key(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nx\n-----END PGP PRIVATE KEY BLOCK-----"
        )


def test_the_docker_variables_carry_only_what_is_set() -> None:
    assert mirror_variables(None) == {}
    assert mirror_variables(PackageMirror(url="http://m/debian")) == {
        "APT_MIRROR": "http://m/debian"
    }
    assert mirror_variables(PackageMirror(url="http://m/debian", trusted=True)) == {
        "APT_MIRROR": "http://m/debian",
        "APT_MIRROR_TRUSTED": "true",
    }


@pytest.mark.parametrize("stack", CALCULATOR_LABS)
def test_the_calculator_labs_shipped_url_keeps_working(stack: str) -> None:
    shipped = load_stack_file(stack)
    assert isinstance(shipped[K + "bootstrap"]["aptMirror"], str)
    for instance in run_program(shipped, stack=stack).of_type(INSTANCE):
        apt = yaml.safe_load(instance.inputs["userData"])["apt"]
        assert apt == {
            "primary": [{"arches": ["default"], "uri": shipped[K + "bootstrap"]["aptMirror"]}]
        }


@pytest.mark.parametrize("stack", CALCULATOR_LABS)
def test_a_signed_mirror_gives_cloud_init_its_key(stack: str) -> None:
    mirror = {"url": "http://10.0.0.1:8090/debian", "key": ARMORED_KEY}
    config = changed(load_stack_file(stack), change("bootstrap", "aptMirror", value=mirror))
    instances = run_program(config, stack=stack).of_type(INSTANCE)
    assert len(instances) == 5
    for instance in instances:
        primary = yaml.safe_load(instance.inputs["userData"])["apt"]["primary"]
        assert primary == [{"arches": ["default"], "uri": mirror["url"], "key": ARMORED_KEY}]


@pytest.mark.parametrize("stack", CALCULATOR_LABS)
def test_cloud_init_cannot_take_an_unchecked_mirror(stack: str) -> None:
    mirror = {"url": "http://10.0.0.1:8090/debian", "trusted": True}
    config = changed(load_stack_file(stack), change("bootstrap", "aptMirror", value=mirror))
    assert_rejected(config, stack, [("bootstrap.aptMirror.trusted", "give the mirror's key")])


def _vbox_cluster_user_data(config: dict[str, object]) -> dict[str, str]:
    """Every VM's user-data in vbox-cluster (the seed ISOs' environment), by VM."""
    run = run_program(config, stack="vbox-cluster")
    seeds = [r for r in run.of_type(CMD) if r.name.endswith("-seed-iso")]
    assert len(seeds) == 5, [r.name for r in seeds]
    return {r.name: r.inputs["environment"]["SEED_USER_DATA"] for r in seeds}


def _openstack_k8s_user_data(config: dict[str, object]) -> dict[str, str]:
    """Every node's user-data in openstack-k8s (a secret: revealed)."""
    instances = run_program(config, stack="openstack-k8s").of_type(INSTANCE)
    assert len(instances) == 3, instances
    return {i.name: str(revealed(i.inputs["userData"])[0]) for i in instances}


def _libvirt_host_user_data(config: dict[str, object]) -> dict[str, str]:
    """Every VM's user-data in libvirt-host (its seed command's environment), by VM."""
    seeds = [r for r in run_program(config, stack="libvirt-host").of_type(CMD)]
    seeds = [r for r in seeds if r.name.endswith("-seed")]
    assert len(seeds) == 5, [r.name for r in seeds]
    return {r.name: r.inputs["environment"]["USER_DATA"] for r in seeds}


GUEST_USER_DATA = {
    "vbox-cluster": _vbox_cluster_user_data,
    "openstack-k8s": _openstack_k8s_user_data,
    "libvirt-host": _libvirt_host_user_data,
}
"""The labs whose guests install packages through cloud-init with a top-level ``aptMirror``."""


@pytest.mark.parametrize("stack", sorted(GUEST_USER_DATA))
def test_the_guests_apt_names_the_mirror_and_its_key(stack: str) -> None:
    mirror = {"url": "http://10.0.0.1:8090/ubuntu", "key": ARMORED_KEY}
    config = changed(load_stack_file(stack), change("aptMirror", value=mirror))
    for name, text in GUEST_USER_DATA[stack](config).items():
        doc = yaml.safe_load(text)
        assert doc["apt"] == {
            "primary": [{"arches": ["default"], "uri": mirror["url"], "key": ARMORED_KEY}]
        }, name
    short = changed(load_stack_file(stack), change("aptMirror", value="http://10.0.0.1/ubuntu"))
    for name, text in GUEST_USER_DATA[stack](short).items():
        primary = yaml.safe_load(text)["apt"]["primary"]
        assert primary == [{"arches": ["default"], "uri": "http://10.0.0.1/ubuntu"}], name


@pytest.mark.parametrize("stack", sorted(GUEST_USER_DATA))
def test_without_a_mirror_the_guests_keep_the_images_sources(stack: str) -> None:
    for name, text in GUEST_USER_DATA[stack](load_stack_file(stack)).items():
        assert "apt" not in yaml.safe_load(text), name


@pytest.mark.parametrize("stack", sorted(GUEST_USER_DATA))
def test_the_guests_cannot_take_an_unchecked_mirror(stack: str) -> None:
    mirror = {"url": "http://10.0.0.1:8090/ubuntu", "trusted": True}
    config = changed(load_stack_file(stack), change("aptMirror", value=mirror))
    assert_rejected(config, stack, [("aptMirror.trusted", "give the mirror's key")])
