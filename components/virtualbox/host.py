"""The host whose VirtualBox the components drive (scripts in ``scripts/virtualbox/``), and the
check made there once per stack before anything else: its VBoxManage version and tools."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.children import child_options
from components.hostexec import Host, RemoteHost, run_script

HOST_ONLY_KINDS = ("hostonly", "hostonlynet")
"""Adapter 2's host-only attachment: a host-only interface (``vboxnet0``), or a host-only
network (macOS hosts with VirtualBox 7)."""


def virtualbox_host(vboxmanage: str = "VBoxManage", remote: RemoteHost | None = None) -> Host:
    """This machine, or ``remote``; every script gets the VBoxManage command as VBOXMANAGE."""
    return Host(remote=remote, env={"VBOXMANAGE": vboxmanage})


def host_report(line: str) -> dict[str, str]:
    """The ``key=value`` words ``scripts/virtualbox/host.sh`` prints."""
    return dict(word.split("=", 1) for word in line.split() if "=" in word)


def host_only_kind(line: str | None) -> str:
    """What a host-only adapter attaches to on the host the report is of."""
    kind = host_report(line or "").get("hostonly", "hostonly")
    return kind if kind in HOST_ONLY_KINDS else "hostonly"


@dataclass(frozen=True)
class HostCheckArgs:
    host: Host = field(default_factory=virtualbox_host)
    """Where VBoxManage runs."""


class HostCheck(pulumi.ComponentResource):
    """VBoxManage's version (a version the scripts cannot drive is refused, with the reason), the
    tools the scripts need, and the kind of host-only attachment, checked on the VirtualBox host
    once; what is made there goes after it (``depends_on``)."""

    report: pulumi.Output[str]
    """``virtualbox=<x.y.z> os=<uname -s> hostonly=<kind>``."""
    host_only: pulumi.Output[str]
    """``hostonly`` or ``hostonlynet`` (:data:`HOST_ONLY_KINDS`)."""

    def __init__(
        self, name: str, args: HostCheckArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:virtualbox:HostCheck", name, None, opts)
        check = run_script(
            f"{name}-check",
            args.host,
            "virtualbox/host.sh",
            {},
            delete=False,
            opts=child_options(self, opts),
        )
        self.report = check.stdout.apply(lambda text: (text or "").strip())
        self.host_only = check.stdout.apply(host_only_kind)
        self.register_outputs({"report": self.report, "host_only": self.host_only})
