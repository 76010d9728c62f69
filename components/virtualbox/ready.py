"""The key the stack logs in to its guests with to see that they are ready (cloud-init has
finished): made on the VirtualBox host by ``scripts/virtualbox/ready-key.sh``, never leaving
it; the guests' seeds authorise its public half for the login user."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.children import child_options
from components.hostexec import Host, run_script
from components.virtualbox.host import virtualbox_host


@dataclass(frozen=True)
class ReadyKeyArgs:
    path: str
    """The private key's file on the VirtualBox host (``~/`` = that user's home)."""
    host: Host = field(default_factory=virtualbox_host)


class ReadyKey(pulumi.ComponentResource):
    path: pulumi.Output[str]
    """The private key's file on the VirtualBox host, as given."""
    public_key: pulumi.Output[str]
    """The public key (``ssh-ed25519 ... cloudlabs-ready``)."""

    def __init__(
        self, name: str, args: ReadyKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:virtualbox:ReadyKey", name, None, opts)
        key = run_script(
            f"{name}-file",
            args.host,
            "virtualbox/ready-key.sh",
            {"KEY_PATH": args.path},
            # A new file is a new key.
            triggers=[args.path],
            opts=child_options(self, opts, delete_before_replace=True),
        )
        # Known once the key exists: what logs in with it comes after it.
        self.path = key.stdout.apply(lambda _: args.path)
        self.public_key = key.stdout.apply(lambda text: (text or "").strip())
        self.register_outputs({"path": self.path, "public_key": self.public_key})


@dataclass(frozen=True)
class ReadyLogin:
    """How to log in to a guest to ask cloud-init whether it has finished."""

    user: str
    key: ReadyKey
