"""The 2-tier calculator as one component (``cloudlabs:calculator:Calculator``)."""

from __future__ import annotations

import shlex

import pulumi

from calculator.config import OPERATOR_ROLES
from components.calculator.service import Service, ServiceArgs
from components.calculator.spec import (
    SAMPLE_EXPRESSION,
    CalculatorArgs,
    OnDocker,
    OnOpenStack,
    service_name,
)
from components.calculator_bootstrap import FRONT_END, service_url
from components.children import child_options


class Calculator(pulumi.ComponentResource):
    """The front end and the four operators, one :class:`Service` each (``<name>-front``,
    ``<name>-sum``, ``<name>-sub``, ``<name>-mul``, ``<name>-div``); on OpenStack also the two
    security groups (``<name>-front-sg``, ``<name>-operators-sg``). The operators come first:
    the front end is told their addresses.

    Before the calculator was a component, the labs registered each service's container or
    server, and the groups, directly (under what is now the calculator's parent): dev named the
    front end's container ``<name>-calculator``, the OpenStack labs their servers as the
    services are named now. Aliases to those registrations keep every resource's state.
    """

    url: pulumi.Output[str]
    """Where users call the calculator: the published port, or the front end's floating IP."""
    curl_command: pulumi.Output[str]
    """A command computing ``(5+6)*2`` through :attr:`url` (answers ``result = 22``)."""
    addresses: pulumi.Output[dict[str, str]]
    """Each service's address for the others (container name, VM's fixed IP), by role."""
    floating_ip: pulumi.Output[str | None]
    """The front end's public address on OpenStack; None on Docker."""
    services: dict[str, Service]
    """The services by role."""

    def __init__(
        self, name: str, args: CalculatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:calculator:Calculator", name, None, opts)
        home = opts.parent if opts is not None else None
        groups: dict[str, pulumi.Output[str]] = {}
        if isinstance(args.runs_on, OnOpenStack):
            from components.calculator.openstack import security_groups

            moved = child_options(self, opts, aliases=[pulumi.Alias(parent=home)])
            groups = security_groups(name, args.settings, args.runs_on, moved)

        def service(role: str, upstreams: dict[str, pulumi.Input[str]]) -> Service:
            own = service_name(name, role)
            earlier = dict.fromkeys([own, f"{name}-{role}"])
            cloud = args.runs_on
            after = cloud.placements[role].after if isinstance(cloud, OnOpenStack) else ()
            return Service(
                own,
                ServiceArgs(
                    role=role,
                    runs_on=args.runs_on,
                    settings=args.settings,
                    upstreams=upstreams,
                    security_group_id=groups.get(role),
                    formerly=[pulumi.Alias(name=n, parent=home) for n in earlier],
                ),
                opts=child_options(self, opts, after=after),
            )

        self.services = {role: service(role, {}) for role in OPERATOR_ROLES}
        addresses = {role: s.address for role, s in self.services.items()}
        self.services = {FRONT_END: service(FRONT_END, dict(addresses)), **self.services}
        front_end = self.services[FRONT_END]
        port = front_end.port
        if isinstance(args.runs_on, OnDocker):
            from components.calculator.docker import published_url

            self.url = pulumi.Output.from_input(published_url(args.runs_on))
            self.floating_ip = pulumi.Output.from_input(None)
        else:
            assert front_end.server is not None
            self.floating_ip = front_end.server.floating_ip
            self.url = front_end.server.floating_ip.apply(lambda ip: service_url(str(ip), port))
        self.curl_command = self.url.apply(
            lambda url: f'curl -d "{SAMPLE_EXPRESSION}" -X POST {shlex.quote(url)}'
        )
        self.addresses = pulumi.Output.all(
            **{role: s.address for role, s in self.services.items()}
        ).apply(dict)
        self.register_outputs(
            {
                "url": self.url,
                "curl_command": self.curl_command,
                "addresses": self.addresses,
                "floating_ip": self.floating_ip,
            }
        )
