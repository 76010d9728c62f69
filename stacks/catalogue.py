"""Every lab of LABS.md, in its order; labs without a builder yet say so when selected."""

from __future__ import annotations

from stacks import openstack_vm
from stacks.registry import Lab, register

for lab in (
    Lab("dev", "Docker", "the calculator as five containers on the local Docker engine"),
    Lab(
        "docker-basics",
        "Docker",
        "ct1, ct2 with SSH on 2223, a committed snapshot, ct3, nano image",
    ),
    Lab("vbox-nat", "VirtualBox", "a VM behind NAT with an SSH forward, and a clone of its disk"),
    Lab("vbox-cluster", "VirtualBox", "master + N nodes: dnsmasq, NFS, nginx load balancer, Redis"),
    Lab("libvirt-host", "libvirt/KVM", "host preparation, libvirt networks, five VMs, inventory"),
    openstack_vm.LAB,
    Lab("openstack-calculator", "OpenStack", "the calculator on five VMs, one floating IP"),
    Lab("openstack-naas", "OpenStack", "the calculator across two sub-networks and three routers"),
    Lab("openstack-k8s", "OpenStack", "a kubeadm cluster on three VMs with the sample app"),
):
    register(lab)
