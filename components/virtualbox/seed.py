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
    seed: Seed
    """The documents (network-config in netplan form; None = cloud-init's default DHCP)."""
    host: Host = field(default_factory=virtualbox_host)
    """Where VBoxManage runs."""


def seed_path(args: SeedIsoArgs) -> str:
    """The ISO's path: it carries a hash of the content, so new content is a new file."""
    return f"{args.directory.rstrip('/')}/{args.hostname}-seed-{args.seed.digest}.iso"


class SeedIso(pulumi.ComponentResource):
    path: pulumi.Output[str]
    """The ISO on the VirtualBox host."""

    def __init__(self, name: str, args: SeedIsoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cloudlabs:virtualbox:SeedIso", name, None, opts)
        path = seed_path(args)
        env: dict[str, pulumi.Input[str]] = {
            "SEED_PATH": path,
            "SEED_USER_DATA": args.seed.user_data,
            "SEED_META_DATA": args.seed.meta_data,
            "SEED_NETWORK_CONFIG": args.seed.network_config or "",
        }
        run_script(
            f"{name}-iso",
            args.host,
            "virtualbox/seed.sh",
            env,
            # New content = new file name = a new ISO; the VM swaps its DVD, then the old ISO
            # is deleted.
            triggers=[path],
            opts=child_options(self, opts),
        )
        self.path = pulumi.Output.from_input(path)
        self.register_outputs({"path": self.path})
