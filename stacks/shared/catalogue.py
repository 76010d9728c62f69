"""The catalogue of labs: the ``lab`` config key selects one, and only its modules are imported.

Each entry names the module that builds the lab; listing the labs (or reporting an unknown
one) imports none of them, so a program run pays only for the provider SDKs of its own lab.
A lab module exports ``LAB = Lab(config=<its model>, build=<its build>)``; next to it,
``<module>_checks.py`` declares what the deployed lab must answer (``checks``) and what it looks
like (``topology``), for ``scripts/check.sh`` and ``scripts/diagram.sh``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stacks.shared.errors import LabNotAvailableError, LabSelectionError
from stacks.shared.validation import LabModel


@dataclass(frozen=True)
class Lab:
    """What a lab module exports."""

    config: type[LabModel]
    """The lab's config model."""
    build: Callable[[Any], None]
    """Builds the lab's resources from its validated config."""


@dataclass(frozen=True)
class Entry:
    """A line of the catalogue."""

    name: str
    """The value of the ``lab`` config key."""
    platform: str
    """Where it runs: Docker, VirtualBox, libvirt or OpenStack."""
    summary: str
    """What it builds, in one line."""
    module: str | None
    """The module that builds it (``stacks.dev``); None while this version has none."""

    @property
    def available(self) -> bool:
        return self.module is not None

    def load(self) -> Lab:
        """The lab's model and build (importing its module and the SDKs it uses)."""
        if self.module is None:
            raise LabNotAvailableError(f"lab {self.name!r} is not built by this version")
        lab = importlib.import_module(self.module).LAB
        assert isinstance(lab, Lab), f"{self.module}.LAB is not a Lab"
        return lab

    @property
    def checks_module(self) -> str | None:
        """The module declaring the lab's checks and topology (``stacks.dev_checks``)."""
        return None if self.module is None else f"{self.module}_checks"


LABS: tuple[Entry, ...] = (
    Entry("dev", "Docker", "the calculator as five containers on the local Docker engine",
          "stacks.dev"),
    Entry("docker-basics", "Docker",
          "ct1, ct2 with SSH on 2223, a committed snapshot, ct3, nano image",
          "stacks.docker_basics"),
    Entry("vbox-nat", "VirtualBox",
          "a VM behind NAT with an SSH forward, and a second VM from a clone of its disk",
          "stacks.vbox_nat"),
    Entry("vbox-cluster", "VirtualBox",
          "master + N nodes: dnsmasq, NFS + autofs, nginx load balancer, counter app, Redis",
          "stacks.vbox_cluster"),
    Entry("libvirt-host", "libvirt/KVM",
          "host preparation, libvirt networks, five VMs with fixed MACs, Ansible inventory",
          "stacks.libvirt_host"),
    Entry("openstack-vm", "OpenStack",
          "keypair, security group, private network, router, one VM with a floating IP",
          "stacks.openstack_vm"),
    Entry("openstack-calculator", "OpenStack",
          "the calculator on five VMs, one floating IP on the front end",
          "stacks.openstack_calculator"),
    Entry("openstack-naas", "OpenStack",
          "the calculator across two sub-networks and three routers",
          "stacks.openstack_naas"),
    Entry("openstack-k8s", "OpenStack",
          "a kubeadm Kubernetes cluster (Calico) on three VMs with the sample app",
          "stacks.openstack_k8s"),
)  # fmt: skip
"""Every lab, in the order of docs/labs.md."""


def labs() -> list[Entry]:
    """Every known lab, in catalogue order."""
    return list(LABS)


def select(name: object) -> Entry:
    """The lab named by the ``lab`` config key, or an error listing the known labs."""
    known = ", ".join(sorted(entry.name for entry in LABS))
    if name is None or name == "":
        raise LabSelectionError(
            "no lab selected: set the `lab` config key "
            f"(pulumi config set lab <name>); known labs: {known}"
        )
    entry = next((e for e in LABS if e.name == str(name)), None)
    if entry is None:
        raise LabSelectionError(f"unknown lab {name!r}; known labs: {known}")
    if not entry.available:
        raise LabNotAvailableError(
            f"lab {entry.name!r} ({entry.platform}: {entry.summary}) is not built yet by this "
            "version of cloud-labs; available labs: "
            + ", ".join(sorted(e.name for e in LABS if e.available))
        )
    return entry
