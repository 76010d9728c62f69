"""Translation of validated rule config into component rule specs."""

from __future__ import annotations

from collections.abc import Iterable

from components.openstack import RuleSpec
from stacks.openstack_config import RuleConfig


def rule_specs(rules: Iterable[RuleConfig]) -> list[RuleSpec]:
    return [
        RuleSpec(
            protocol=rule.protocol,
            port_min=rule.ports[0] if rule.ports else None,
            port_max=rule.ports[1] if rule.ports else None,
            remote_cidr=str(rule.remote_cidr),
            description=rule.description,
        )
        for rule in rules
    ]
