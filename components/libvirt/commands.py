"""Running the scripts of ``scripts/libvirt/`` on the KVM host, locally or over SSH.

A script's text travels inside the command (``bash -c <script> <name> <action>``), so the
KVM host needs no copy of this repository. Its parameters are environment variables: given to
pulumi-command's ``environment`` on the local host; on a remote host, set by ``env`` in front
of the command (an SSH server accepts only the variables its ``AcceptEnv`` lists).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pulumi
import pulumi_command as command

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "libvirt"
"""Where the scripts live in this repository."""


@dataclass(frozen=True)
class SshTarget:
    host: str
    """The KVM host's name or address."""
    user: str = "root"
    """Login user: root, or a member of the ``libvirt`` group with passwordless sudo."""
    port: int = 22
    """SSH port."""
    private_key: pulumi.Input[str] | None = None
    """Private key (a secret); None = the local SSH agent."""
    dial_error_limit: int = 10
    """How many failed connection attempts before giving up."""
    per_dial_timeout: int = 15
    """Seconds each connection attempt may take."""

    @property
    def jump(self) -> str:
        """``user@host[:port]`` for ``ssh -J``."""
        return f"{self.user}@{self.host}" + (f":{self.port}" if self.port != 22 else "")


@dataclass(frozen=True)
class LibvirtHost:
    uri: str = "qemu:///system"
    """Libvirt connection URI on the KVM host."""
    ssh: SshTarget | None = None
    """How to reach the KVM host; None = this machine."""
    sudo: bool = False
    """Run the scripts through ``sudo -n`` (for a user that is not root)."""


@cache
def script_text(script: str) -> str:
    """The text of ``scripts/libvirt/<script>``."""
    return (SCRIPTS / script).read_text()


def script_command(
    script: str,
    action: str,
    env: Mapping[str, str] | None = None,
    *,
    sudo: bool = False,
    keep: Sequence[str] = (),
) -> str:
    """The shell command running ``script`` with ``action``.

    ``env`` is set in front of it when given; with ``sudo``, the variables named in ``keep``
    (already in the caller's environment) pass through sudo.
    """
    run = shlex.join(["bash", "-c", script_text(script), f"scripts/libvirt/{script}", action])
    prefix = ""
    if sudo:
        prefix = "sudo -n "
        if keep:
            prefix += f"--preserve-env={','.join(sorted(keep))} "
    if env:
        assignments = [f"{key}={shlex.quote(value)}" for key, value in sorted(env.items())]
        prefix += "env " + " ".join(assignments) + " "
    return prefix + run


def run_script(
    name: str,
    host: LibvirtHost,
    script: str,
    env: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> command.local.Command | command.remote.Command:
    """A command resource: ``script create`` on ``up``, ``script delete`` on ``destroy``.

    ``create`` is also what runs when the environment changes (the scripts compare before
    they act), so a changed definition updates the same resource in place. The scripts do not
    read the previous run's output, so it is not passed (a remote SSH server would refuse the
    variables and warn on every update and delete).
    """
    full = {"LIBVIRT_URI": host.uri, **env}
    if host.ssh is None:
        return command.local.Command(
            name,
            create=script_command(script, "create", sudo=host.sudo, keep=list(full)),
            delete=script_command(script, "delete", sudo=host.sudo, keep=list(full)),
            environment=full,
            add_previous_output_in_env=False,
            opts=opts,
        )
    ssh = host.ssh
    connection = command.remote.ConnectionArgs(
        host=ssh.host,
        user=ssh.user,
        port=ssh.port,
        private_key=pulumi.Output.secret(ssh.private_key) if ssh.private_key else None,
        dial_error_limit=ssh.dial_error_limit,
        per_dial_timeout=ssh.per_dial_timeout,
    )
    return command.remote.Command(
        name,
        connection=connection,
        create=script_command(script, "create", full, sudo=host.sudo),
        delete=script_command(script, "delete", full, sudo=host.sudo),
        add_previous_output_in_env=False,
        opts=opts,
    )


def merged(
    opts: pulumi.ResourceOptions, after: Sequence[pulumi.Resource]
) -> pulumi.ResourceOptions:
    """``opts`` with ``after`` added to its dependencies."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(after)))
