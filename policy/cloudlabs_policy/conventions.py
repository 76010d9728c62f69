"""What a lab's resources declare about themselves, and how the rules read it.

A rule learns a lab's intent from the resources, not from a second list kept here:

- **Declared public ports** — an OpenStack security group carries one tag per port that may be
  reached from anywhere: ``cloudlabs.public=tcp:50000``, ``cloudlabs.public=tcp:30000-32767``,
  ``cloudlabs.public=udp:4789``, ``cloudlabs.public=icmp``. A Docker container carries the label
  ``org.cloudlabs.public`` with ``<port>/<protocol>`` entries separated by commas (``22/tcp``).
  SSH (``tcp:22``) and ICMP count as declared only when named on their own: a range never
  declares them.
- **Tier** — ``backend`` for a lab's operators and back ends, ``frontend`` for the front end
  users reach: the OpenStack instance's ``metadata`` key ``cloudlabs.tier``, the Docker
  container's label ``org.cloudlabs.tier``. Only ``backend`` restricts anything.
- A container's labels cannot change without replacing it, so a component may declare labels
  for the containers it encloses instead, as its property ``declared_labels``; a container's
  own labels win over them.
- **Service containers** — a Docker container with the label ``org.cloudlabs.role`` is one of a
  lab's services (dev labels its five containers so).

The calculator labs declare all of it (``components/declarations.py`` writes these names):
dev's containers their role, and dev's Services their containers' tier and, published on
every address, the front end's port;
openstack-calculator's and openstack-naas's servers their tier, the front end's group its
port, and SSH and ICMP when ``adminCidr`` is every address.

Where nothing is declared, interim rules stand in. When a stack's resources declare no public
port at all, the ingress rule falls back to the stack's config: the world (``0.0.0.0/0``, or
``0.0.0.0`` as a host address) is accepted only where the config states it explicitly. When an
OpenStack instance carries no tier, it counts as a back end when its port's security groups
admit nothing from any address range (only members of other groups).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PUBLIC_TAG = "cloudlabs.public"
"""Security-group tag prefix: ``cloudlabs.public=<protocol>[:<port>[-<port>]]``."""
PUBLIC_LABEL = "org.cloudlabs.public"
"""Container label: ``22/tcp,8080/tcp``."""
TIER_KEY = "cloudlabs.tier"
"""Instance metadata key: ``backend`` or ``frontend``."""
TIER_LABEL = "org.cloudlabs.tier"
"""Container label: ``backend`` or ``frontend``."""
ROLE_LABEL = "org.cloudlabs.role"
DECLARED_LABELS = "declared_labels"
"""A component's property: labels it declares for the containers it encloses (a container's
own labels cannot change without replacing it)."""
"""Container label naming the lab service the container runs."""
BACKEND = "backend"
FRONTEND = "frontend"

WORLD_PREFIXES = ("0.0.0.0/0", "::/0")
WORLD_HOSTS = ("0.0.0.0", "::", "")
SSH_PORT = 22


@dataclass(frozen=True)
class PortSpan:
    """A protocol and an inclusive port range; ``low`` is None for every port (or ICMP)."""

    protocol: str
    low: int | None = None
    high: int | None = None

    def __str__(self) -> str:
        if self.low is None:
            return self.protocol
        if self.high in (None, self.low):
            return f"{self.protocol}:{self.low}"
        return f"{self.protocol}:{self.low}-{self.high}"

    @property
    def is_admin(self) -> bool:
        """SSH or ICMP: open to the world only when declared on its own."""
        if self.protocol in ("icmp", "ipv6-icmp"):
            return True
        if self.protocol != "tcp":
            return False
        low = 1 if self.low is None else self.low
        high = 65535 if self.high is None else self.high
        return low <= SSH_PORT <= high

    def covered_by(self, declared: PortSpan) -> bool:
        """True when ``declared`` allows all of this span."""
        if declared.protocol != self.protocol:
            return False
        if self.is_admin:
            return declared == self
        if declared.low is None:
            return True
        if self.low is None:
            return False
        high = self.high if self.high is not None else self.low
        declared_high = declared.high if declared.high is not None else declared.low
        return declared.low <= self.low and high <= declared_high


def parse_span(text: str) -> PortSpan | None:
    """``tcp:50000``, ``tcp:30000-32767``, ``icmp`` (or the container form ``22/tcp``)."""
    text = text.strip().lower()
    if "/" in text:
        port, _, protocol = text.partition("/")
        text = f"{protocol}:{port}"
    protocol, _, ports = text.partition(":")
    if not protocol:
        return None
    if not ports:
        return PortSpan(protocol)
    low_text, _, high_text = ports.partition("-")
    try:
        low = int(low_text)
        high = int(high_text) if high_text else low
    except ValueError:
        return None
    return PortSpan(protocol, low, high)


def declared_spans(tags: Iterable[object]) -> list[PortSpan]:
    """The spans declared by ``cloudlabs.public=...`` entries of a security group's tags."""
    spans = []
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(PUBLIC_TAG + "="):
            span = parse_span(tag.partition("=")[2])
            if span is not None:
                spans.append(span)
    return spans


def label_spans(value: object) -> list[PortSpan]:
    """The spans of an ``org.cloudlabs.public`` label value (``22/tcp,8080/tcp``)."""
    if not isinstance(value, str):
        return []
    return [s for s in (parse_span(part) for part in value.split(",") if part.strip()) if s]


def container_labels(props: Mapping[str, object]) -> dict[str, str]:
    """A Docker container's labels (the provider's list of ``{label, value}``) as a mapping."""
    labels: dict[str, str] = {}
    raw = props.get("labels") or []
    if isinstance(raw, Iterable) and not isinstance(raw, (str, bytes)):
        for entry in raw:
            if isinstance(entry, Mapping) and isinstance(entry.get("label"), str):
                labels[str(entry["label"])] = str(entry.get("value", ""))
    return labels


def is_world_prefix(prefix: object) -> bool:
    """True for a CIDR covering every address (0.0.0.0/0, ::/0, or any /0)."""
    if not isinstance(prefix, str):
        return False
    try:
        return ipaddress.ip_network(prefix.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False
