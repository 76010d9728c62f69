"""What a lab's resources declare about themselves, for the policy pack to read.

The pack (``policy/cloudlabs_policy/conventions.py``) learns a lab's intent from its resources:

- a security group's tag ``cloudlabs.public=tcp:50000`` (or ``icmp``, ``tcp:22``...) declares a
  port that may be reached from anywhere; SSH and ICMP count only when named on their own;
- a container's label ``org.cloudlabs.public=50000/tcp`` does the same for its published ports;
- the tier of what runs there, ``backend`` for operators and back ends, ``frontend`` for the
  front end users reach: an OpenStack server's metadata ``cloudlabs.tier``, a container's label
  ``org.cloudlabs.tier``;
- a container's label ``org.cloudlabs.role`` names the lab service it runs.

A container's labels cannot change without replacing it, so a component may declare labels
for the containers it encloses instead: its property ``declared_labels`` (a mapping), read by
the pack under the container's own labels.
"""

from __future__ import annotations

from collections.abc import Iterable

PUBLIC_TAG = "cloudlabs.public"
PUBLIC_LABEL = "org.cloudlabs.public"
TIER_KEY = "cloudlabs.tier"
TIER_LABEL = "org.cloudlabs.tier"
ROLE_LABEL = "org.cloudlabs.role"
DECLARED_LABELS = "declared_labels"
BACKEND = "backend"
FRONTEND = "frontend"

WORLD_HOSTS = ("0.0.0.0", "::", "")
"""Host addresses a published port is reachable on from anywhere."""


def public_tag(protocol: str, port: int | None = None) -> str:
    """A security group's tag declaring ``protocol`` (on ``port``) open to anyone."""
    return f"{PUBLIC_TAG}={protocol}" if port is None else f"{PUBLIC_TAG}={protocol}:{port}"


def public_label(ports: Iterable[tuple[int, str]]) -> str:
    """The value of a container's public label: its ``(port, protocol)`` pairs, ``22/tcp,...``."""
    return ",".join(f"{port}/{protocol}" for port, protocol in ports)


def is_world_cidr(cidr: str) -> bool:
    """True for a prefix covering every address (``0.0.0.0/0``, ``::/0``)."""
    return cidr.strip().endswith("/0")
