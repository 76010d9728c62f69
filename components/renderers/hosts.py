"""``/etc/hosts`` of a guest that knows the other machines of its lab by name."""

from __future__ import annotations

from collections.abc import Sequence


def render_hosts(entries: Sequence[tuple[str, str]], hostname: str) -> str:
    """Loopback lines for ``hostname``, then ``(address, name)`` entries, then IPv6's."""
    lines = ["127.0.0.1 localhost", f"127.0.1.1 {hostname}"]
    lines += [f"{address} {name}" for address, name in entries]
    lines += [
        "",
        "::1 ip6-localhost ip6-loopback",
        "fe00::0 ip6-localnet",
        "ff00::0 ip6-mcastprefix",
        "ff02::1 ip6-allnodes",
        "ff02::2 ip6-allrouters",
    ]
    return "\n".join(lines) + "\n"
