"""Where VBoxManage runs, and the pulumi-command resource that runs a script there."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
from pulumi_command import local, remote

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "virtualbox"
BASH = ["/bin/bash", "-c"]


@cache
def script_text(name: str) -> str:
    """The text of ``scripts/virtualbox/<name>``."""
    return (SCRIPTS / name).read_text()


@dataclass(frozen=True)
class RemoteHost:
    """A VirtualBox host reached over SSH."""

    address: str
    """Host name or address of the machine running VirtualBox."""
    user: str
    """The SSH user (owner of the VMs there)."""
    private_key: pulumi.Input[str]
    """The SSH private key (passed as a Pulumi secret)."""
    port: int = 22
    """The SSH port."""
    host_key: str | None = None
    """The host's public key, to verify it; None = not verified."""


@dataclass(frozen=True)
class VBoxHost:
    """The machine whose VirtualBox the components drive."""

    vboxmanage: str = "VBoxManage"
    """The VBoxManage command there (a name on PATH, or a full path)."""
    remote: RemoteHost | None = None
    """None = this machine; otherwise the remote VirtualBox host."""

    def env(self, values: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
        """The scripts' environment with the VBoxManage command added."""
        return {"VBOXMANAGE": self.vboxmanage, **values}

    def command_there(self, command: str) -> str:
        """``command`` as typed on this machine to run it on the VirtualBox host (where the
        NAT forwards listen on 127.0.0.1): itself, or through ssh to the remote host."""
        if self.remote is None:
            return command
        r = self.remote
        port = f"-p {r.port} " if r.port != 22 else ""
        return f"ssh {port}{r.user}@{r.address} {command}"

    def ssh_prefix(self) -> str:
        """What to put before ``-p PORT user@127.0.0.1`` to reach a forward on this host."""
        if self.remote is None:
            return "ssh"
        r = self.remote
        jump = f"{r.user}@{r.address}" + (f":{r.port}" if r.port != 22 else "")
        return f"ssh -J {jump}"


def _remote_text(script: str, env: Mapping[str, str]) -> str:
    """``bash -c`` with the variables exported inside the command (an SSH server does not
    necessarily accept environment variables from the client)."""
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    return "bash -c " + shlex.quote(exports + script)


def run_script(
    name: str,
    host: VBoxHost,
    *,
    create: str,
    environment: Mapping[str, pulumi.Input[str]],
    update: str | None = None,
    delete: str | None = None,
    triggers: Sequence[Any] = (),
    opts: pulumi.ResourceOptions,
) -> local.Command | remote.Command:
    """A command resource running the named scripts of ``scripts/virtualbox/``.

    ``create`` runs once; ``update`` (when given) runs when an input other than ``triggers``
    changes; a change of ``triggers`` replaces the resource (``delete`` then ``create``).
    """
    env = host.env(environment)
    texts = {
        "create": script_text(create),
        "update": script_text(update) if update else None,
        "delete": script_text(delete) if delete else None,
    }
    if host.remote is None:
        return local.Command(
            name,
            create=texts["create"],
            update=texts["update"],
            delete=texts["delete"],
            environment=env,
            interpreter=BASH,
            triggers=list(triggers),
            add_previous_output_in_env=False,
            opts=opts,
        )
    r = host.remote
    resolved = pulumi.Output.all(**env)

    def wrap(text: str | None) -> pulumi.Output[str] | None:
        if text is None:
            return None
        return resolved.apply(lambda values: _remote_text(text, values))

    connection = remote.ConnectionArgs(
        host=r.address,
        port=r.port,
        user=r.user,
        private_key=pulumi.Output.secret(r.private_key),
        host_key=r.host_key,
        dial_error_limit=20,
    )
    return remote.Command(
        name,
        connection=connection,
        create=wrap(texts["create"]),
        update=wrap(texts["update"]),
        delete=wrap(texts["delete"]),
        triggers=list(triggers),
        add_previous_output_in_env=False,
        opts=opts,
    )
