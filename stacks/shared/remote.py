"""The one config model of a host reached over SSH (the VirtualBox host, the KVM host)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from pydantic import Field

from components.hostexec import ARGUMENT_MAX, Host, RemoteHost, largest_argument
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.types import HostName, Name, Port, Secret, SshPublicKey
from stacks.shared.validation import LabModel


class RemoteHostConfig(LabModel):
    """A host reached over SSH instead of this machine.

    Set the key as a secret (``pulumi config set --secret --path <key>.privateKey
    "$(cat ~/.ssh/id_ed25519)"``) and pin the host's key (``ssh-keyscan -t ed25519 <host>``
    prints it after the host name).
    """

    host: HostName
    """The host's name or address."""
    user: Name = "root"
    """The login user."""
    port: Port = 22
    private_key: Secret | None = None
    """The private key; omitted = the SSH agent (``SSH_AUTH_SOCK``)."""
    host_key: SshPublicKey
    """The host's public key (``ssh-ed25519 AAAA...``): another key is refused."""
    dial_error_limit: int = Field(10, ge=1, le=1000)
    """Failed connection attempts before giving up (the host may be rebooting)."""
    per_dial_timeout: int = Field(15, ge=1, le=3600)
    """Seconds one connection attempt may take."""

    def remote(self) -> RemoteHost:
        """The components' view of the host. The private key is the secret the stack's config
        holds (the connection that carries it is a secret of its own in pulumi-command)."""
        key = self.private_key
        return RemoteHost(
            host=self.host,
            user=self.user,
            port=self.port,
            private_key=key.input() if key is not None else None,
            host_key=self.host_key,
            dial_error_limit=self.dial_error_limit,
            per_dial_timeout=self.per_dial_timeout,
        )


def seed_size_problems(
    host: Host, script: str, documents: Mapping[str, str], where: KeyPath, guest: str
) -> Iterator[Problem]:
    """A NoCloud seed's documents travel to the hypervisor's host inside the command that writes
    the ISO (``script``, its parameters ``documents``): the limit that applies is Linux's on one
    argument or environment string, :data:`~components.hostexec.ARGUMENT_MAX`."""
    size = largest_argument(host, script, documents)
    if size > ARGUMENT_MAX:
        how = "the command to the remote host" if host.remote is not None else "a variable"
        yield Problem(
            where,
            f"{guest}'s cloud-init seed would take {size} bytes in {how}, over Linux's "
            f"{ARGUMENT_MAX} for one argument (MAX_ARG_STRLEN); shorten it",
        )
