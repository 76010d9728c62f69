"""URNs as the Pulumi engine forms them, and how an update matches a new program to old state.

The mocks name a resource after its parent's last type only; the engine puts the whole chain of
its ancestors' types in a URN (``cloudlabs:calculator:Calculator$cloudlabs:calculator:Service$
cloudlabs:docker:Container$docker:index/container:Container``), leaving out the stack. Aliases
reach the engine as specs (name, type, parent, no parent), and the engine turns them into URNs
while it registers the program's resources in order (``pkg/resource/deploy/step_generator.go``):

- an alias spec becomes one URN; an omitted name or type is the resource's own, an omitted
  parent its current parent; a parent that was itself matched through an alias stands for the
  old URN it matched;
- a resource whose parent was matched through an alias also gets the alias that parent implies
  (the child's name with the parent's new name prefix replaced by the old one);
- the old state is looked up by the resource's URN first, then by each alias in turn.

:func:`upgrade` replays that on a program run under the mocks against a list of old URNs, so a
test can show which old resource each new one takes over: none is created anew, none deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import PROJECT, Resource, StackRun

ROOT_TYPE = "pulumi:pulumi:Stack"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "urns"


def _prefix(stack: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::"


def qualified_type(urn: str) -> str:
    """The type chain of a URN (``parent$...$type``)."""
    return urn.split("::")[2]


def urn_name(urn: str) -> str:
    return urn.split("::", 3)[3]


def new_urn(stack: str, parent_type: str, type_: str, name: str) -> str:
    """``resource.NewURN``: the parent's type chain (empty for the stack) before the type."""
    chain = f"{parent_type}${type_}" if parent_type else type_
    return f"{_prefix(stack)}{chain}::{name}"


def create_urn(stack: str, name: str, type_: str, parent: str) -> str:
    """``resource.CreateURN``: the URN of ``name`` of ``type_`` under the URN ``parent``."""
    if not parent:
        return f"{_prefix(stack)}{type_}::{name}"
    return f"{parent[: parent.rindex('::')]}${type_}::{name}"


def engine_urns(run: StackRun, stack: str) -> dict[str, str]:
    """Each recorded resource's engine URN, by the URN the mocks gave it."""
    by_urn = {res.urn: res for res in run.resources}
    found: dict[str, str] = {}

    def of(res: Resource) -> str:
        if res.urn not in found:
            parent = by_urn.get(res.parent or "")
            parent_type = qualified_type(of(parent)) if parent is not None else ""
            found[res.urn] = new_urn(stack, parent_type, res.type, res.name)
        return found[res.urn]

    for res in run.resources:
        of(res)
    return found


@dataclass
class Claim:
    """What one resource of the new program is to the engine."""

    resource: Resource
    urn: str
    """Its engine URN."""
    candidates: list[str]
    """Its URN, then each alias URN: what the engine looks up in the old state."""
    takes: str | None = None
    """The old URN it takes over (its own URN or an alias), None: created anew."""


@dataclass
class Upgrade:
    claims: list[Claim] = field(default_factory=list)

    def taken(self) -> dict[str, list[Claim]]:
        """Each old URN with the resources that take it over."""
        out: dict[str, list[Claim]] = {}
        for claim in self.claims:
            if claim.takes is not None:
                out.setdefault(claim.takes, []).append(claim)
        return out

    def created(self) -> list[Claim]:
        return [c for c in self.claims if c.takes is None]

    def claimants(self, old: str) -> list[Claim]:
        """The resources listing ``old`` among their URN and aliases."""
        return [c for c in self.claims if old in c.candidates]


def _alias_urn(
    spec: dict[str, Any], res: Resource, parent: str, matched: dict[str, str], stack: str
) -> str:
    """``collapseAliasToUrn`` of one alias spec of ``res`` (``parent``: its engine parent URN;
    ``matched``: the old URN each resource matched through an alias, by engine URN)."""
    name = spec.get("name") or res.name
    type_ = spec.get("type") or res.type
    given = spec.get("parentUrn") or ""
    alias_parent = matched.get(given, given) if given else parent
    if spec.get("noParent") or (alias_parent and qualified_type(alias_parent) == ROOT_TYPE):
        alias_parent = ""
    return create_urn(spec.get("stack") or stack, name, type_, alias_parent)


def upgrade(run: StackRun, stack: str, old: Iterable[str]) -> Upgrade:
    """Replay the engine's matching of ``run`` (in registration order) against ``old`` URNs."""
    olds = set(old)
    urns = engine_urns(run, stack)
    root = f"{_prefix(stack)}{ROOT_TYPE}::{PROJECT}-{stack}"
    matched: dict[str, str] = {}
    result = Upgrade()
    for res in run.resources:
        urn = urns[res.urn]
        parent = urns.get(res.parent or "", root if res.parent else "")
        aliases: list[str] = []
        specs = [a.get("spec", {}) for a in res.options.get("aliases", [])]
        for spec in specs:
            # An alias naming a parent by its mock URN names it by its engine URN here.
            spec = {**spec, "parentUrn": urns.get(spec.get("parentUrn", ""), "")}
            aliases.append(_alias_urn(spec, res, parent, matched, stack))
        if parent in matched:
            parent_alias = matched[parent]
            parent_name = urn_name(parent)
            for type_, name in [(res.type, res.name)] + [
                (qualified_type(a).rsplit("$", 1)[-1], urn_name(a)) for a in list(aliases)
            ]:
                if name.startswith(parent_name):
                    name = urn_name(parent_alias) + name[len(parent_name) :]
                aliases.append(new_urn(stack, qualified_type(parent_alias), type_, name))
        candidates = [urn, *dict.fromkeys(a for a in aliases if a != urn)]
        claim = Claim(res, urn, candidates)
        for candidate in candidates:
            if candidate in olds:
                claim.takes = candidate
                if candidate != urn:
                    matched[urn] = candidate
                break
        result.claims.append(claim)
    return result


def fixture(stack: str) -> list[str]:
    """The engine URNs of ``stack`` as deployed before its calculator and floating IPs were
    components (``tests/fixtures/urns/<stack>.txt``)."""
    text = (FIXTURES / f"{stack}.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]
