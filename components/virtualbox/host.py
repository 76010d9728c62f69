"""The host whose VirtualBox the components drive (scripts in ``scripts/virtualbox/``)."""

from __future__ import annotations

from components.hostexec import Host, RemoteHost


def virtualbox_host(vboxmanage: str = "VBoxManage", remote: RemoteHost | None = None) -> Host:
    """This machine, or ``remote``; every script gets the VBoxManage command as VBOXMANAGE."""
    return Host(remote=remote, env={"VBOXMANAGE": vboxmanage})
