"""Every lab of LABS.md, in its order: the `lab` config key selects one of these."""

from __future__ import annotations

from stacks import (
    dev,
    docker_basics,
    libvirt_host,
    openstack_calculator,
    openstack_k8s,
    openstack_naas,
    openstack_vm,
    vbox_cluster,
    vbox_nat,
)
from stacks.shared.registry import register

for lab in (
    dev.LAB,
    docker_basics.LAB,
    vbox_nat.LAB,
    vbox_cluster.LAB,
    libvirt_host.LAB,
    openstack_vm.LAB,
    openstack_calculator.LAB,
    openstack_naas.LAB,
    openstack_k8s.LAB,
):
    register(lab)
