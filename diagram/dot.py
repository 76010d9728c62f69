"""A :class:`~diagram.model.Topology` as Graphviz DOT text (pure: the same topology, the same text).

Each network is a cluster headed by a node holding its name, kind, CIDR and the other facts of
its lines; the nodes on it are drawn inside. Routers, hosts and clients stand outside and join
the networks by edges labelled with their interface addresses: the external network above, the
routers under it, the private networks below. A legend names the kinds of nodes and edges the
diagram uses. Everything is set in DejaVu Sans (``scripts/setup/checks.sh`` installs it), so
the SVG that ``dot`` makes of it is the same on every machine with the same Graphviz.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from diagram.model import LINK_KINDS, NODE_KINDS, Link, Network, Node, Topology

FONT = "DejaVu Sans"

NODE_STYLE: dict[str, dict[str, str]] = {
    "vm": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#2f5d8a"},
    "container": {
        "shape": "box",
        "style": "rounded,filled",
        "fillcolor": "#fff6df",
        "color": "#b7791f",
    },
    "router": {"shape": "box", "style": "filled", "fillcolor": "#e6f4e7", "color": "#2e7d32"},
    "host": {"shape": "box3d", "style": "filled", "fillcolor": "#f0f0f0", "color": "#555555"},
    "floating-ip": {"shape": "note", "style": "filled", "fillcolor": "#f3e9fa", "color": "#7b3fa0"},
    "peer": {
        "shape": "box",
        "style": "rounded,dashed,filled",
        "fillcolor": "#fdeeee",
        "color": "#b03a2e",
    },
    "image": {"shape": "cylinder", "style": "filled", "fillcolor": "#f7f7f7", "color": "#777777"},
}
LINK_STYLE: dict[str, dict[str, str]] = {
    "nic": {"color": "#5b7fa8", "arrowhead": "none", "penwidth": "1.3"},
    "forward": {"color": "#1f6fb2", "style": "dashed", "arrowhead": "vee"},
    "floating": {"color": "#7b3fa0", "style": "dashed", "arrowhead": "vee"},
    "allow": {"color": "#2e8b57", "fontcolor": "#1e6b40", "penwidth": "1.6", "arrowhead": "normal"},
    "calls": {"color": "#444444", "arrowhead": "vee"},
    "derived": {"color": "#888888", "style": "dotted", "arrowhead": "vee"},
}
LEGEND_STROKE = {
    "nic": "━━━━",
    "forward": "╍╍╍▶",
    "floating": "╍╍╍▶",
    "allow": "━━━▶",
    "calls": "───▶",
    "derived": "┈┈┈▶",
}
CLUSTER = {"fillcolor": "#eef4fb", "color": "#7a9cc6"}
EXTERNAL_CLUSTER = {"fillcolor": "#f6f0e6", "color": "#b08d57"}


def quote(text: str) -> str:
    """A DOT string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attrs(values: dict[str, str]) -> str:
    return " ".join(f"{key}={quote(value)}" for key, value in values.items())


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def html_label(title: str, kind: str, lines: Iterable[str]) -> str:
    """A node's label: its title in bold, its kind in small grey type, one fact per line."""
    rows = [f"<TR><TD><B>{_esc(title)}</B></TD></TR>"]
    if kind:
        rows.append(f'<TR><TD><FONT POINT-SIZE="8" COLOR="#606060">{_esc(kind)}</FONT></TD></TR>')
    rows += [f'<TR><TD ALIGN="LEFT">{_esc(line)}</TD></TR>' for line in lines]
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + "".join(rows)
        + "</TABLE>>"
    )


def _node(node: Node, indent: str) -> str:
    label = html_label(node.title, NODE_KINDS[node.kind], node.lines)
    return f"{indent}{quote(node.id)} [label={label} {_attrs(NODE_STYLE[node.kind])}];"


def _cluster(net: Network, members: Sequence[Node]) -> list[str]:
    style = EXTERNAL_CLUSTER if net.external else CLUSTER
    head = html_label(net.title, net.kind, net.lines)
    lines = [
        f"  subgraph {quote('cluster_' + net.id)} {{",
        f'    graph [label="" style="rounded,filled" penwidth="1.2" {_attrs(style)}];',
        f'    {quote(net.id)} [label={head} shape="box" style="filled" '
        f'fillcolor="#ffffff" color={quote(style["color"])} penwidth="1.2"];',
    ]
    lines += [_node(node, "    ") for node in members]
    # Unseen edges keep the network's head above its members.
    lines += [f'    {quote(net.id)} -> {quote(node.id)} [style="invis"];' for node in members]
    lines.append("  }")
    return lines


def _edge(link: Link, topology: Topology) -> str:
    nets = {n.id: n for n in topology.networks}
    style = dict(LINK_STYLE[link.kind])
    a, b = link.a, link.b
    if link.kind == "nic" and (link.uplink or nets[b].external):
        # A network sits below the nodes that join it, unless it is their way up.
        a, b = b, a
    label = ""
    if link.label:
        # On a white ground, so that no line drawn under it hides a character.
        label = (
            ' label=<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="1" BGCOLOR="white">'
            f"<TR><TD>{_esc(link.label)}</TD></TR></TABLE>>"
        )
    return f"  {quote(a)} -> {quote(b)} [{_attrs(style)}{label}];"


def _above(topology: Topology) -> list[str]:
    """Unseen edges that put the clients a security group admits above the networks (above
    the external one when there is one)."""
    heads = [n.id for n in topology.networks if n.external] or [n.id for n in topology.networks[:1]]
    return [
        f'  {quote(peer.id)} -> {quote(head)} [style="invis"];'
        for peer in topology.nodes
        if peer.kind == "peer"
        for head in heads
    ]


def _legend(topology: Topology) -> list[str]:
    kinds = list(dict.fromkeys(n.kind for n in topology.nodes))
    links = list(dict.fromkeys(link.kind for link in topology.links))
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    for kind in kinds:
        fill, color = NODE_STYLE[kind]["fillcolor"], NODE_STYLE[kind]["color"]
        rows.append(
            f'<TR><TD BGCOLOR="{fill}" BORDER="1" COLOR="{color}"> </TD>'
            f'<TD ALIGN="LEFT">{_esc(NODE_KINDS[kind])}</TD></TR>'
        )
    rows.append(
        f'<TR><TD BGCOLOR="{CLUSTER["fillcolor"]}" BORDER="1" COLOR="{CLUSTER["color"]}"> </TD>'
        '<TD ALIGN="LEFT">network (with its CIDR)</TD></TR>'
    )
    for link in links:
        color = LINK_STYLE[link]["color"]
        rows.append(
            f'<TR><TD><FONT COLOR="{color}">{LEGEND_STROKE[link]}</FONT></TD>'
            f'<TD ALIGN="LEFT">{_esc(LINK_KINDS[link])}</TD></TR>'
        )
    label = (
        '<<TABLE BORDER="1" STYLE="ROUNDED" COLOR="#bbbbbb" CELLBORDER="0" CELLSPACING="2" '
        'CELLPADDING="2">' + "".join(rows) + "</TABLE>>"
    )
    return [
        f'  "legend" [label={label} shape="plaintext" fontsize="9"];',
    ]


def render(topology: Topology) -> str:
    """The DOT text of ``topology``."""
    title = f"<B>{_esc(topology.stack)}</B>: {_esc(topology.title)}"
    notes = "".join(f'<BR ALIGN="LEFT"/>{_esc(note)}' for note in topology.notes)
    lines = [
        f"digraph {quote(topology.stack)} {{",
        f'  graph [fontname="{FONT}" fontsize="12" label=<{title}{notes}<BR ALIGN="LEFT"/>> '
        'labelloc="t" labeljust="l" rankdir="TB" newrank="true" ordering="out" nodesep="0.35" '
        'ranksep="0.55" '
        'pad="0.3" bgcolor="white"];',
        f'  node [fontname="{FONT}" fontsize="10" margin="0.12,0.06"];',
        f'  edge [fontname="{FONT}" fontsize="9"];',
    ]
    for net in topology.networks:
        members = [n for n in topology.nodes if n.network == net.id]
        lines += _cluster(net, members)
    lines += [_node(n, "  ") for n in topology.nodes if n.network is None]
    lines += [_edge(link, topology) for link in topology.links]
    lines += _above(topology)
    lines += _legend(topology)
    lines.append("}")
    return "\n".join(lines) + "\n"
