"""The cloud-labs policy pack: the labs' safety rules, each named, with its enforcement level.

- ``world-ingress-only-to-declared-ports`` (mandatory): security group rules and the
  ``cloudlabs.public`` tags of their group; containers' published ports and their
  ``org.cloudlabs.public`` label; without any declaration, the stack's config.
- ``backends-never-exposed`` (mandatory): floating IP associations, through the port, to the
  instance and its tier (``cloudlabs.tier`` metadata, else its groups' rules); containers'
  ``org.cloudlabs.tier`` label and published ports.
- ``service-containers-non-root-read-only`` (mandatory): ``user`` and ``readOnly`` of the
  containers labelled ``org.cloudlabs.role``.
- ``outputs-carry-no-config-secrets`` (mandatory): the stack's outputs against the config's
  ``secure:`` entries.
- ``vms-ssh-key-never-password`` (mandatory): instances' ``keyPair``, ``adminPass`` and
  user-data; the seed user-data in commands' environment (VirtualBox, libvirt).
- ``node-ports-in-kubernetes-range`` (mandatory): Services in user-data (and
  ``kubernetes:core/v1:Service`` resources) against the cluster's NodePort range.
- ``user-data-within-nova-limit`` (mandatory): instances' ``userData``, base64-encoded size.

See :mod:`cloudlabs_policy.conventions` for what a lab's resources declare.
"""

from __future__ import annotations

from collections.abc import Callable

from pulumi_policy import Policy

from cloudlabs_policy.guests import resource_policies
from cloudlabs_policy.network import backends_not_exposed, world_ingress
from cloudlabs_policy.outputs import no_secrets_in_outputs
from cloudlabs_policy.stack_config import StackConfig

PACK_NAME = "cloud-labs-safety"


def build_policies(config: Callable[[], StackConfig]) -> list[Policy]:
    """Every rule of the pack; ``config`` gives the stack's config when a rule needs it."""
    return [
        world_ingress(config),
        backends_not_exposed(),
        no_secrets_in_outputs(config),
        *resource_policies(),
    ]
