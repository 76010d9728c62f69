"""The KVM host the libvirt components drive (scripts in ``scripts/libvirt/``)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_command as command

from components import hostexec
from components.hostexec import Host, RemoteHost


def libvirt_host(
    uri: str = "qemu:///system", remote: RemoteHost | None = None, sudo: bool = False
) -> Host:
    """This machine, or ``remote`` (through ``sudo -n`` with ``sudo``); every script gets the
    libvirt connection URI as LIBVIRT_URI."""
    return Host(remote=remote, sudo=sudo, env={"LIBVIRT_URI": uri})


def run_script(
    name: str, host: Host, script: str, env: Mapping[str, str], opts: pulumi.ResourceOptions
) -> command.local.Command | command.remote.Command:
    """``scripts/libvirt/<script> create`` on ``up``, ``... delete`` on ``destroy``.

    ``create`` is also what runs when the environment changes (the scripts compare before they
    act), so a changed definition updates the same resource in place. The scripts do not read
    the previous run's output.
    """
    return hostexec.run_script(name, host, script_path(script), env, opts=opts)


def script_path(script: str) -> str:
    """``scripts/libvirt/<script>`` as :func:`components.hostexec.run_script` names it."""
    return f"libvirt/{script}"
