"""One service of the calculator (``cloudlabs:calculator:Service``): its container or its VM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from calculator.config import OPERATOR_ROLES, ROLES
from components.calculator.spec import CalculatorSettings, OnDocker, OnOpenStack
from components.calculator_bootstrap import FRONT_END, service_url
from components.children import child_options
from components.declarations import DECLARED_LABELS

if TYPE_CHECKING:
    from components.docker import Container, OperatedContainer
    from components.openstack import Server


@dataclass(frozen=True)
class ServiceArgs:
    role: str
    """One of the calculator's roles (``calculator.config.ROLES``)."""
    runs_on: OnDocker | OnOpenStack
    """Where it runs (the calculator's)."""
    settings: CalculatorSettings
    """Its port, timeouts and limits (the calculator's)."""
    upstreams: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Front end only: each operator's address, as the front end reaches it."""
    security_group_id: pulumi.Input[str] | None = None
    """OpenStack: the group its port joins (the front end's, or the operators')."""
    formerly: Sequence[pulumi.Alias] = ()
    """Where and under which names its container or server was registered before the
    calculator grouped its services: the aliases keep that resource's state."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {ROLES}")
        wanted = sorted(OPERATOR_ROLES) if self.role == FRONT_END else []
        if sorted(self.upstreams) != wanted:
            raise ValueError(f"the {self.role} service needs the addresses of {wanted}")


class Service(pulumi.ComponentResource):
    """A role's container (a ``cloudlabs:docker:Container``) or VM (a
    ``cloudlabs:openstack:Server``), named as the service, with what it declares to the policy
    pack: its tier (``frontend``/``backend``) as Nova metadata, or on Docker as the Service's
    ``declared_labels`` property (with a public label when its port is published on every
    address), which the pack reads for the container it encloses."""

    role: str
    """The role it runs."""
    port: int
    """Its port."""
    address: pulumi.Output[str]
    """Its address for the other services: its container name, or its VM's fixed IP."""
    url: pulumi.Output[str]
    """``http://<address>:<port>``."""

    def __init__(
        self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, object] | None = None
        if isinstance(args.runs_on, OnDocker):
            from components.calculator.docker import declared_labels

            props = {DECLARED_LABELS: declared_labels(args.role, args.settings, args.runs_on)}
        super().__init__("cloudlabs:calculator:Service", name, props, opts)
        self.role = args.role
        self.port = args.settings.port(args.role)
        self.container: Container | None = None
        """Its container, on Docker."""
        self.operated: OperatedContainer | None = None
        """Its container with its snapshots and restore, on Docker."""
        self.server: Server | None = None
        """Its server, on OpenStack."""
        moved = child_options(self, opts, aliases=list(args.formerly) or None)
        # Each platform's module, and its SDK, is imported only where the calculator runs there.
        if isinstance(args.runs_on, OnDocker):
            from components.calculator.docker import service_container

            self.operated = service_container(name, args.role, args.settings, args.runs_on, moved)
            self.container = self.operated.container
            self.address = pulumi.Output.from_input(args.runs_on.container_names[args.role])
        else:
            from components.calculator.openstack import service_server

            if args.security_group_id is None:
                raise ValueError(f"the {args.role} server needs a security group")
            self.server = service_server(
                name,
                args.role,
                args.settings,
                args.runs_on,
                args.upstreams,
                args.security_group_id,
                moved,
            )
            fixed = args.runs_on.vms[args.role].fixed_ip
            self.address = pulumi.Output.from_input(fixed) if fixed else self.server.fixed_ip
        port = self.port
        self.url = self.address.apply(lambda address: service_url(address, port))
        self.register_outputs(
            {"role": self.role, "port": self.port, "address": self.address, "url": self.url}
        )
