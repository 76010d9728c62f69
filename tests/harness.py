"""Run the real Pulumi program under mocks, the way ``pulumi preview`` would, and record it.

``run_program(config)`` registers every resource through :class:`RecordingMocks`, which keeps
each resource's type, name, inputs and options (parent, dependencies), and resolves the stack's
exported outputs. Assertion messages should name the resource's URN.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import itertools
import json
import runpy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import config as runtime_config
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from stacks.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "cloud-labs"
_PEM_KINDS = ("PUBLIC KEY", "RSA PRIVATE KEY", "CERTIFICATE")


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    parent: str | None
    depends_on: list[str]

    def __repr__(self) -> str:
        return f"<{self.urn}>"


@dataclass
class StackRun:
    resources: list[Resource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {found}"
        return found[0]

    def by_id(self, id_: str) -> Resource:
        found = [r for r in self.resources if r.id == id_]
        assert len(found) == 1, f"no single resource with id {id_!r}: {found}"
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        found = [r for r in self.resources if r.urn == urn]
        assert len(found) == 1, f"no resource {urn}"
        return found[0]

    def in_dependency_order(self, type_: str) -> list[Resource]:
        """The resources of ``type_``, each after those it depends on (as the engine runs them)."""
        pending = self.of_type(type_)
        done: list[Resource] = []
        while pending:
            ready = [
                r for r in pending if not any(self.depends_on(r, o) for o in pending if o is not r)
            ]
            assert ready, f"dependency cycle among {pending}"
            done += ready
            pending = [r for r in pending if r not in ready]
        return done

    def depends_on(self, resource: Resource, other: Resource) -> bool:
        """True when ``resource`` depends on ``other`` (directly, or on one of its ancestors)."""
        chain: set[str] = set()
        urn: str | None = other.urn
        while urn is not None:
            chain.add(urn)
            parent = [r for r in self.resources if r.urn == urn]
            urn = parent[0].parent if parent else None
        return any(d in chain for d in resource.depends_on)


class RecordingMocks(Mocks):
    """Mocks that behave like a small OpenStack/Docker/command provider and record everything."""

    def __init__(self, run: StackRun) -> None:
        self.run = run
        self._ids = itertools.count(1)
        self._fips = itertools.count(10)
        self._ports: dict[str, int] = {}

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        rid = f"{args.name}-id"
        state = dict(args.inputs)
        typ = args.typ
        if typ == "openstack:networking/port:Port":
            fixed = state.get("fixedIps") or []
            ips = [f.get("ipAddress") or f"10.255.0.{next(self._ids)}" for f in fixed]
            state["allFixedIps"] = ips
            state.setdefault("macAddress", "fa:16:3e:00:00:%02x" % (next(self._ids) % 256))
        elif typ == "openstack:networking/floatingIp:FloatingIp":
            # TEST-NET-3 documentation range: never routed, never contacted.
            state["address"] = f"203.0.113.{next(self._fips)}"
        elif typ == "openstack:networking/router:Router":
            state["externalFixedIps"] = [{"ipAddress": f"203.0.113.{next(self._fips)}"}]
        elif typ == "openstack:networking/subnet:Subnet":
            cidr = ipaddress.IPv4Network(state["cidr"])
            state.setdefault("gatewayIp", str(next(cidr.hosts())))
        elif typ == "openstack:compute/keypair:Keypair":
            state["fingerprint"] = "SHA256:mock"
        elif typ == "openstack:compute/instance:Instance":
            state["accessIpV4"] = ""
        elif typ == "docker:index/image:Image":
            state["repoDigest"] = "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()
        elif typ == "docker:index/container:Container":
            nets = state.get("networksAdvanced") or [{"name": "bridge"}]
            state["networkDatas"] = [
                {"ipAddress": f"172.30.0.{next(self._ids) % 250 + 2}", "networkName": n["name"]}
                for n in nets
            ]
        elif typ == "command:local:Command":
            state["stdout"] = "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()
        elif typ == "random:index/randomPassword:RandomPassword":
            # Drawn (deterministically) from the character classes the inputs allow.
            classes = {"lower": "abcdefghijklmnopqrstuvwxyz", "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
            classes |= {"numeric": "0123456789", "special": "!#$%&*()-_=+[]{}<>:?"}
            chars = "".join(c for key, c in classes.items() if state.get(key, True))
            digest = hashlib.sha256(args.name.encode()).digest() * 4
            state["result"] = "".join(chars[b % len(chars)] for b in digest[: int(state["length"])])
        elif typ.startswith("tls:index/"):  # PEM-shaped, not real keys or certificates
            body = base64.b64encode(hashlib.sha512(args.name.encode()).digest()).decode()
            pem = {k: f"-----BEGIN {k}-----\n{body}\n-----END {k}-----\n" for k in _PEM_KINDS}
            if typ == "tls:index/privateKey:PrivateKey":
                state["publicKeyPem"] = pem["PUBLIC KEY"]
                state["privateKeyPem"] = pem["RSA PRIVATE KEY"]
            state.setdefault("certPem", pem["CERTIFICATE"])
        self.run.resources.append(
            Resource(
                type=typ,
                name=args.name,
                urn=f"urn:{typ}::{args.name}",
                id=rid,
                inputs=dict(args.inputs),
                state=state,
                parent=None,
                depends_on=[],
            )
        )
        return rid, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.run.calls.append((args.token, dict(args.args)))
        if args.token == "openstack:networking/getNetwork:getNetwork":
            name = args.args.get("name", "net")
            return {"id": f"{name}-network-id", "name": name, "external": True}, []
        return {}, []


def _patch_monitor_for_options(run: StackRun) -> None:
    """Record each resource's parent and dependencies (mocks don't pass them to new_resource)."""
    monitor = runtime_settings.SETTINGS.monitor
    original = monitor.RegisterResource

    def register(request: Any) -> Any:
        response = original(request)
        for res in reversed(run.resources):
            if res.name == request.name and res.type == request.type:
                res.urn = response.urn
                res.parent = request.parent or None
                res.depends_on = list(request.dependencies)
                for deps in request.propertyDependencies.values():
                    res.depends_on.extend(deps.urns)
                break
        return response

    monitor.RegisterResource = register


def to_pulumi_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Encode config values the way the Pulumi engine hands them to the program."""
    out: dict[str, str] = {}
    for key, value in values.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, (dict, list)):
            out[full] = json.dumps(value)
        elif isinstance(value, bool):
            out[full] = "true" if value else "false"
        else:
            out[full] = str(value)
    return out


def load_stack_file(stack: str) -> dict[str, Any]:
    """The ``config`` of a shipped ``Pulumi.<stack>.yaml``, keys as written."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return dict(data.get("config") or {})


def run_function(
    fn: Callable[[], None],
    config: Mapping[str, Any] | None = None,
    *,
    stack: str = "test",
    run: StackRun | None = None,
) -> StackRun:
    """Run ``fn`` as a Pulumi program under mocks with ``config``; return what it declared.

    Exceptions raised by the program (config errors) propagate after the engine settles; pass
    ``run`` to inspect what was declared before the error.
    """
    run = run if run is not None else StackRun()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runtime_settings.reset_options(project=PROJECT, stack=stack)  # fresh settings, no root
    pulumi.runtime.set_mocks(RecordingMocks(run), project=PROJECT, stack=stack, preview=False)
    _patch_monitor_for_options(run)
    runtime_config.set_all_config(to_pulumi_config(config or {}), [])

    async def settle_outputs() -> None:
        root = runtime_settings.get_root_resource()
        outputs = getattr(root, "outputs", {}) or {}
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            run.outputs[key] = await out.future()
            if await out.is_secret():
                run.secret_outputs.add(key)

    try:
        loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(fn))
        loop.run_until_complete(settle_outputs())
    finally:
        loop.close()
    return run


def run_program(
    config: Mapping[str, Any], *, stack: str = "test", run: StackRun | None = None
) -> StackRun:
    """Run the real ``__main__.py`` under mocks with ``config`` (as in ``Pulumi.<stack>.yaml``)."""

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    return run_function(program, config, stack=stack, run=run)


def run_stack_file(stack: str) -> StackRun:
    """Run a shipped ``Pulumi.<stack>.yaml`` through the real program under mocks."""
    return run_program(load_stack_file(stack), stack=stack)


def assert_rejected(
    config: Mapping[str, Any],
    lab: str,
    expected: Sequence[tuple[str, str]],
    *,
    stack: str = "bad",
) -> ConfigError:
    """Run ``config``: it must fail for ``lab`` before any resource, with exactly ``expected``.

    ``expected`` lists (field path as reported, words the message must contain), one per problem.
    """
    recorded = StackRun()
    with pytest.raises(ConfigError) as caught:
        run_program(config, stack=stack, run=recorded)
    assert recorded.resources == [], "resources were registered before the config was checked"
    error = caught.value
    assert error.lab == lab
    text = str(error)
    for path, words in expected:
        lines = [line for line in text.splitlines() if line.strip().startswith(f"- {path}:")]
        assert lines, f"no problem reported at {path!r} in:\n{text}"
        assert any(words in line for line in lines), f"{path}: {words!r} not in {lines}"
    assert len(error.problems) == len(expected), text
    return error


def change(key: str, *path: str | int, value: Any = None, delete: bool = False) -> Callable:
    """A mutation setting (or deleting) one value deep inside a stack file's config.

    ``key`` is the config key without the project prefix; ``path`` goes down into its value.
    """

    def apply(config: dict[str, Any]) -> None:
        target: Any = config
        keys: list[Any] = [f"{PROJECT}:{key}", *path]
        for part in keys[:-1]:
            target = target[part]
        if delete:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return apply
