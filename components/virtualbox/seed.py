"""A cloud-init NoCloud seed ISO (volume ``cidata``) built on the VirtualBox host."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.children import child_options
from components.hostexec import Host, run_script
from components.renderers.cloudinit import Seed
from components.virtualbox.host import virtualbox_host


@dataclass(frozen=True)
class SeedIsoArgs:
    directory: str
    """Where the ISO goes on the VirtualBox host (``~/`` = that user's home)."""
    hostname: str
    """The guest's name (part of the file name)."""
    seed: pulumi.Input[Seed]
    """The documents (network-config in netplan form; None = cloud-init's default DHCP); an
    Output when they hold what is known once something else exists (the ready key)."""
    host: Host = field(default_factory=virtualbox_host)
    """Where VBoxManage runs."""


def seed_path(directory: str, hostname: str, seed: Seed) -> str:
    """The ISO's path: it carries a hash of the content, so new content is a new file."""
    return f"{directory.rstrip('/')}/{hostname}-seed-{seed.digest}.iso"


SEED_SCRIPT = "virtualbox/seed.sh"
"""The script writing the ISO."""


def seed_environment(directory: str, hostname: str, seed: Seed) -> dict[str, str]:
    """The parameters of ``scripts/virtualbox/seed.sh``: the ISO's path and the documents."""
    return {
        "SEED_PATH": seed_path(directory, hostname, seed),
        "SEED_USER_DATA": seed.user_data,
        "SEED_META_DATA": seed.meta_data,
        "SEED_NETWORK_CONFIG": seed.network_config or "",
    }


class SeedIso(pulumi.ComponentResource):
    path: pulumi.Output[str]
    """The ISO on the VirtualBox host."""

    def __init__(self, name: str, args: SeedIsoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cloudlabs:virtualbox:SeedIso", name, None, opts)
        documents = pulumi.Output.from_input(args.seed).apply(
            lambda s: seed_environment(args.directory, args.hostname, s)
        )

        def part(key: str) -> pulumi.Output[str]:
            return documents.apply(lambda d: d[key])

        path = part("SEED_PATH")
        env: dict[str, pulumi.Input[str]] = {
            key: part(key)
            for key in ("SEED_PATH", "SEED_USER_DATA", "SEED_META_DATA", "SEED_NETWORK_CONFIG")
        }
        run_script(
            f"{name}-iso",
            args.host,
            SEED_SCRIPT,
            env,
            # New content = new file name = a new ISO; the VM swaps its DVD, then the old ISO
            # is deleted.
            triggers=[path],
            opts=child_options(self, opts),
        )
        self.path = path
        self.register_outputs({"path": self.path})
