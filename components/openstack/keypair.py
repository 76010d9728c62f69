"""A Nova keypair from the user's SSH public key."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from components.children import child_options


@dataclass(frozen=True)
class KeypairArgs:
    name: str
    """The keypair's name in Nova (what servers refer to)."""
    public_key: pulumi.Input[str]
    """An OpenSSH public key line."""


class Keypair(pulumi.ComponentResource):
    name: pulumi.Output[str]
    """The keypair's name in Nova, to pass to servers."""
    fingerprint: pulumi.Output[str]
    """The key's fingerprint as Nova computed it."""

    def __init__(
        self, name: str, args: KeypairArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:Keypair", name, None, opts)
        keypair = openstack.compute.Keypair(
            f"{name}-keypair",
            name=args.name,
            public_key=args.public_key,
            opts=child_options(self, opts),
        )
        self.name = keypair.name
        self.fingerprint = keypair.fingerprint
        self.register_outputs({"name": self.name, "fingerprint": self.fingerprint})
