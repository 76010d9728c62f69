"""docker-basics once deployed: its checks and its topology.

Checks: ct2's SSH server answers on the published port, and ct1 reaches it on the bridge at
ct2's address; the snapshot image is the one the stack reports and ct3 runs it, with what the
preparation installed (nano); with a key configured, the ssh command logs in to ct2.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from checks.guest import Reach
from checks.model import Check, Connect, Contains, Equals, Run
from components.docker import local_address
from diagram.model import Link, Network, Node, Topology, ident
from stacks.docker_basics import DockerBasicsConfig

BRIDGE = "bridge"
"""The engine's default network, where ct1-ct3 run."""


def _inspect(name: str, template: str) -> str:
    return shlex.join(["docker", "inspect", "--format", template, name])


def checks(config: DockerBasicsConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    ct2 = config.ct2
    host = local_address(str(ct2.host_ip))
    banner = Contains("SSH-2.0-")
    to_ct2 = shlex.join(
        [
            "timeout",
            "5",
            "bash",
            "-c",
            'exec 3<>"/dev/tcp/$0/22" && head -n 1 <&3',
            outputs["ct2Ip"],
        ]
    )
    snapshot = str(outputs["snapshotImageId"])
    found = [
        Check(f"{ct2.name}: SSH on {host}:{ct2.host_port}", Connect(host, ct2.host_port), banner),
        Check(
            f"{config.ct1.name} reaches {ct2.name}'s SSH at {outputs['ct2Ip']} on the bridge",
            Run(reach.guest("ct1"), to_ct2),
            banner,
        ),
        Check(
            f"{outputs['snapshotImage']} is the snapshot",
            Run(reach.host, _inspect(str(outputs["snapshotImage"]), "{{.Id}}")),
            Equals(snapshot),
        ),
        Check(
            f"{config.ct3.name} runs the snapshot",
            Run(reach.host, _inspect(config.ct3.name, "{{.Image}}")),
            Equals(snapshot),
        ),
        Check(
            f"{config.ct3.name} has nano (installed in {ct2.name} before the commit)",
            Run(reach.guest("ct3"), "nano --version | head -n 1"),
            Contains("GNU nano"),
        ),
    ]
    if ct2.ssh_public_key:
        via = reach.ssh("ct2", str(outputs["sshCommand"]))
        found.append(
            Check(f"sshCommand logs in to {ct2.name}", Run(via, "hostname"), Equals(ct2.name))
        )
    return found


def topology(config: DockerBasicsConfig, outputs: Mapping[str, Any]) -> Topology:
    net = ident("net", BRIDGE)
    bridge = Network(
        net, BRIDGE, "Docker's default bridge (docker0)", ("subnet chosen by the engine",)
    )
    ct2 = config.ct2

    def container(key: str, image: str, *lines: str) -> Node:
        name = getattr(config, key).name
        address = outputs.get(f"{key}Ip") or "address by the engine"
        return Node(
            ident("ct", key), name, "container", (str(address), f"image {image}", *lines), net
        )

    nodes = [
        Node("host", "this machine", "host", ("Docker engine",)),
        container("ct1", config.images.plain, "sleep infinity"),
        container("ct2", config.images.ssh, "sshd :22"),
        container("ct3", config.snapshot.image, "from the snapshot"),
        Node(
            "img-snapshot",
            config.snapshot.image,
            "image",
            (
                f"docker commit of {ct2.name}",
                *(
                    (str(outputs["snapshotImageId"])[:19],)
                    if outputs.get("snapshotImageId")
                    else ()
                ),
            ),
        ),
        Node("img-nano", config.images.nano, "image", ("Dockerfile recipe: + nano",)),
    ]
    links = [
        Link("host", "ct-ct2", "forward", f"{ct2.host_ip}:{ct2.host_port} → 22"),
        Link("ct-ct2", "img-snapshot", "derived", "commit"),
        Link("img-snapshot", "ct-ct3", "derived", "run"),
    ]
    return Topology(
        "docker-basics",
        "containers on the local Docker engine (ct1, ct2 with SSH, a snapshot and ct3)",
        (bridge,),
        tuple(nodes),
        tuple(links),
        (f"every image is built FROM {config.base_image}",),
    )
