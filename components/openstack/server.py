"""A Nova server on a Neutron port, with an optional floating IP, its snapshots (images taken
from it) and a restore from one of them.

Snapshots and restore run the ``openstack`` CLI on this machine through pulumi-command
(``scripts/openstack/snapshot.sh``, ``scripts/openstack/restore.sh``), with the credentials the
caller gives as ``OS_*`` variables (the provider's config; Pulumi secrets stay secret) on top
of this machine's own ``OS_*`` environment. A restore ``rebuild`` rebuilds the server in place;
``replace`` boots a new server from the image on the same port, so the fixed and floating IPs
stay in both cases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_openstack as openstack

from components.children import child_options
from components.hostexec import Host, run_script
from components.openstack.floating_ip import FloatingIp, FloatingIpArgs
from components.operations import RestoreSpec, SnapshotSpec

RESTORE_METADATA = "cloudlabs.restore-generation"
"""The metadata key of a server booted by a ``replace`` restore: a new generation replaces it."""


@dataclass(frozen=True)
class ServerArgs:
    server_name: str
    """Name of the instance in Nova (also its hostname by default)."""
    image_name: str
    """Glance image to boot from."""
    flavor_name: str
    """Nova flavor; changing it resizes the server in place."""
    network_id: pulumi.Input[str]
    """Network of the server's port."""
    subnet_id: pulumi.Input[str]
    """Subnet of the server's fixed address."""
    fixed_ip: str | None = None
    """The port's address; None = allocated by Neutron."""
    security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Groups applied to the port."""
    key_pair: pulumi.Input[str] | None = None
    """Nova keypair name injected into the server."""
    user_data: pulumi.Input[str] | None = None
    """cloud-init user-data."""
    floating_ip_pool: str | None = None
    """External network to take a floating IP from; None = no floating IP. The router joining
    the subnet to that network goes in the server's ``depends_on``, so that ``destroy`` removes
    the association before the router's interface (:class:`FloatingIp`)."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    """Nova metadata of the instance (``cloudlabs.tier``...); Nova updates it in place."""
    snapshots: Sequence[SnapshotSpec] = ()
    """Images taken from the server (``<server>-<snapshot>``), each once."""
    restore: RestoreSpec | None = None
    """A restore from one of ``snapshots`` (mode ``rebuild`` or ``replace``)."""
    cli_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """``OS_*`` variables for the ``openstack`` CLI (secrets as Pulumi secrets)."""


def snapshot_image_name(server: str, snapshot: str) -> str:
    """The image a snapshot of ``server`` is: ``<server>-<snapshot>``."""
    return f"{server}-{snapshot}"


class Server(pulumi.ComponentResource):
    instance_id: pulumi.Output[str]
    """The Nova server's id."""
    port_id: pulumi.Output[str]
    """The server's Neutron port."""
    fixed_ip: pulumi.Output[str]
    """The server's address on its private network."""
    floating_ip: pulumi.Output[str | None]
    """The server's public address, when it has one."""
    restored: pulumi.Output[str] | None
    """What the server was last restored to (``snapshot@generation``); None: no restore."""

    def __init__(
        self, name: str, args: ServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:Server", name, None, opts)
        child = child_options(self, opts)
        fixed = openstack.networking.PortFixedIpArgs(
            subnet_id=args.subnet_id, ip_address=args.fixed_ip
        )
        port = openstack.networking.Port(
            f"{name}-port",
            name=f"{args.server_name}-port",
            network_id=args.network_id,
            admin_state_up=True,
            fixed_ips=[fixed],
            security_group_ids=list(args.security_group_ids),
            opts=child,
        )
        here = Host()
        restore = args.restore
        image: dict[str, pulumi.Input[str] | None] = {"image_name": args.image_name}
        metadata: dict[str, pulumi.Input[str]] = dict(args.metadata)
        instance_opts = child
        restorer = None
        if restore is not None and restore.mode == "replace":
            # The snapshot is taken from this server: the lookup cannot wait for it (a cycle),
            # it finds the image by name. The new server takes over the port.
            restorer = self._restore(name, here, args, restore, None, opts)
            image = {"image_id": restorer.stdout.apply(lambda out: out.split()[-1])}
            metadata[RESTORE_METADATA] = str(restore.generation)
            instance_opts = child_options(
                self, opts, delete_before_replace=True, replace_on_changes=["metadata"]
            )
        elif restore is not None:
            # Rebuilt in place: the server runs the snapshot's image, which its image input
            # must not undo.
            instance_opts = child_options(self, opts, ignore_changes=["imageName", "imageId"])
        instance = openstack.compute.Instance(
            f"{name}-instance",
            name=args.server_name,
            flavor_name=args.flavor_name,
            key_pair=args.key_pair,
            user_data=args.user_data,
            metadata=metadata or None,
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
            opts=instance_opts,
            **image,
        )
        taken = [
            run_script(
                f"{name}-snapshot-{snap.name}",
                here,
                "openstack/snapshot.sh",
                {
                    **args.cli_env,
                    "SERVER_ID": instance.id,
                    "IMAGE_NAME": snapshot_image_name(args.server_name, snap.name),
                    "DEFINITION": snap.definition,
                    "DESCRIPTION": snap.description,
                },
                triggers=[snap.definition],
                previous_output=True,
                opts=child_options(self, opts, after=[instance]),
            )
            for snap in args.snapshots
        ]
        if restore is not None and restorer is None:
            restorer = self._restore(name, here, args, restore, instance, opts, after=taken)
        self.restored = None
        if restorer is not None:
            self.restored = restorer.stdout.apply(
                lambda out: "@".join(out.split()[:2]) if len(out.split()) == 3 else out.strip()
            )
        floating: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        if args.floating_ip_pool is not None:
            fip = FloatingIp(
                f"{name}-fip",
                FloatingIpArgs(
                    pool=args.floating_ip_pool,
                    port_id=port.id,
                    description=f"{args.server_name} public address",
                    associate_after=[instance],
                    # Servers registered the address and its association themselves before.
                    former_names=[f"{n}-fip" for n in _names(name, opts)],
                ),
                opts=child_options(self, opts),
            )
            floating = fip.address
        self.instance_id = instance.id
        self.port_id = port.id
        self.fixed_ip = port.all_fixed_ips.apply(lambda ips: ips[0])
        self.floating_ip = floating
        self.register_outputs(
            {
                "instance_id": self.instance_id,
                "port_id": self.port_id,
                "fixed_ip": self.fixed_ip,
                "floating_ip": self.floating_ip,
                "restored": self.restored,
            }
        )

    def _restore(
        self,
        name: str,
        here: Host,
        args: ServerArgs,
        restore: RestoreSpec,
        instance: openstack.compute.Instance | None,
        opts: pulumi.ResourceOptions | None,
        after: Sequence[pulumi.Resource] = (),
    ) -> command.local.Command | command.remote.Command:
        """The restore's command: after the server (rebuild) or before it (replace)."""
        env: dict[str, pulumi.Input[str]] = {
            **args.cli_env,
            "SNAPSHOT": restore.snapshot,
            "IMAGE_NAME": snapshot_image_name(args.server_name, restore.snapshot),
            "GENERATION": str(restore.generation),
            "MODE": restore.mode or "rebuild",
        }
        needs = list(after)
        if instance is not None:
            env["SERVER_ID"] = instance.id
            needs.append(instance)
        return run_script(
            f"{name}-restore",
            here,
            "openstack/restore.sh",
            env,
            delete=False,
            update=True,
            previous_output=True,
            opts=child_options(self, opts, after=needs),
        )


def _names(name: str, opts: pulumi.ResourceOptions | None) -> list[str]:
    """``name`` and the earlier names its aliases give the component (a renamed server)."""
    names = [name]
    for alias in (opts.aliases if opts is not None else None) or []:
        if isinstance(alias, pulumi.Alias) and isinstance(alias.name, str):
            names.append(alias.name)
    return list(dict.fromkeys(names))
