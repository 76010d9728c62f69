"""Run the real Pulumi program under mocks, the way ``pulumi preview`` would, and record it.

``run_program(config)`` registers every resource through :class:`RecordingMocks`, which keeps
each resource's type, name, inputs and options (parent, dependencies), and resolves the stack's
exported outputs. Assertion messages should name the resource's URN.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import ipaddress
import json
import os
import runpy
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from google.protobuf import json_format
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from components.hostexec import script_text
from stacks.shared.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "cloud-labs"
MOCK_AUTH_URL = "https://keystone.mock.invalid:5000/v3"
ENVIRONMENT: dict[str, str | None] = {"OS_AUTH_URL": MOCK_AUTH_URL}
"""The environment of every run (None = unset): the OpenStack credentials of the mocked
project (an RC file's ``OS_AUTH_URL``; the mocks contact nothing)."""
ARMORED_KEY = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZmock\n=AbCd\n-----END PGP PUBLIC KEY BLOCK-----\n"
)
"""An OpenPGP public key's shape (armour), for config values; not a real key."""
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
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """For each input property, the URNs of the resources whose outputs feed it."""
    options: dict[str, Any] = field(default_factory=dict)
    """Registration options other than parent and dependencies (``deleteBeforeReplace``,
    ``aliases``...), as the engine receives them; only those that are set."""

    def __repr__(self) -> str:
        return f"<{self.urn}>"


@dataclass
class StackRun:
    resources: list[Resource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    failing_calls: dict[str, str] = field(default_factory=dict)
    """Invokes the mocks fail (token -> the provider's error), as a provider that cannot
    reach its cloud or finds nothing would."""
    command_stdout: dict[str, str] = field(default_factory=dict)
    """What a named ``command:local:Command`` printed, when a test ran it for real (by
    default the mocks give a made-up digest)."""

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

    def reaches(self, resource: Resource, other: Resource) -> bool:
        """True when ``resource`` depends on ``other`` directly or through other resources."""
        seen: set[str] = set()
        todo = [resource]
        while todo:
            current = todo.pop()
            if self.depends_on(current, other):
                return True
            for urn in current.depends_on:
                if urn not in seen and any(r.urn == urn for r in self.resources):
                    seen.add(urn)
                    todo.append(self.by_urn(urn))
        return False


def differences(before: StackRun, after: StackRun) -> list[str]:
    """What an update from ``before`` to ``after`` would change, as the engine sees it: each
    resource (``type::name``) created, deleted, or with other inputs or options, in the order
    ``after`` registers them (empty: "no change")."""
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    found: list[str] = []
    for urn, b in new.items():
        a = old.get(urn)
        if a is None:
            found.append(f"create {b.type}::{b.name}")
            continue
        found += [
            f"{what} of {b.type}::{b.name}"
            for what in ("inputs", "options", "parent")
            if getattr(a, what) != getattr(b, what)
        ]
        if set(a.depends_on) != set(b.depends_on):  # a set to the engine, in any order
            found.append(f"depends_on of {b.type}::{b.name}")
    found += [f"delete {a.type}::{a.name}" for urn, a in old.items() if urn not in new]
    return found


def _picks(key: str, *sizes: int) -> tuple[int, ...]:
    """Numbers in ``range(size)`` (1-based for IPv4 octets), drawn from ``key`` alone: the mock
    values of a resource depend on its name, never on the order resources register in."""
    digest = hashlib.sha256(key.encode()).digest()
    return tuple(digest[i] % size + (1 if size < 256 else 0) for i, size in enumerate(sizes))


class DuplicateResourceError(AssertionError):
    """The program declared two resources of the same type and name."""


class RecordingMocks(Mocks):
    """Mocks that behave like a small OpenStack/Docker/command provider and record everything."""

    def __init__(self, run: StackRun) -> None:
        self.run = run

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Pulumi tells resources apart by type and name: a second one would be an error of
        # `pulumi up`, or worse, the same state for two different things.
        twins = [r for r in self.run.resources if (r.type, r.name) == (args.typ, args.name)]
        if twins:
            raise DuplicateResourceError(
                f"two resources of type {args.typ} are named {args.name!r}"
            )
        rid = f"{args.name}-id"
        state = dict(args.inputs)
        typ = args.typ
        # What the provider would see of the resource: its name there (or description), not
        # its logical name, so that a logical rename (with an alias) keeps the mock values.
        seen = str(state.get("name") or state.get("description") or args.name)
        if typ == "openstack:networking/port:Port":
            fixed = state.get("fixedIps") or []
            ips = [
                f.get("ipAddress") or "10.255.{}.{}".format(*_picks(f"{seen}/{i}", 254, 254))
                for i, f in enumerate(fixed)
            ]
            state["allFixedIps"] = ips
            mac = ":".join(f"{b:02x}" for b in _picks(seen, 256, 256, 256))
            state.setdefault("macAddress", f"fa:16:3e:{mac}")
        elif typ == "openstack:networking/floatingIp:FloatingIp":
            # TEST-NET-3 documentation range: never routed, never contacted.
            state["address"] = f"203.0.113.{10 + _picks(seen, 240)[0]}"
        elif typ == "openstack:networking/router:Router":
            address = f"198.51.100.{10 + _picks(seen, 240)[0]}"
            state["externalFixedIps"] = [{"ipAddress": address}]
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
                {
                    "ipAddress": "172.30.{}.{}".format(*_picks(f"{seen}/{n['name']}", 254, 250)),
                    "networkName": n["name"],
                }
                for n in nets
            ]
        elif typ == "command:local:Command":
            made_up = "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()
            state["stdout"] = self.run.command_stdout.get(args.name, made_up)
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
        if args.token in self.run.failing_calls:
            return {}, [("", self.run.failing_calls[args.token])]
        if args.token == "openstack:networking/getNetwork:getNetwork":
            name = args.args.get("name", "net")
            return {"id": f"{name}-network-id", "name": name, "external": True}, []
        return {}, []


_OPTIONS = (
    "deleteBeforeReplace",
    "protect",
    "retainOnDelete",
    "ignoreChanges",
    "replaceOnChanges",
    "additionalSecretOutputs",
    "aliases",
)


def _options(request: Any) -> dict[str, Any]:
    """The options of a RegisterResource request that are set, as plain values."""
    full = json_format.MessageToDict(request, preserving_proto_field_name=False)
    return {key: full[key] for key in _OPTIONS if full.get(key) not in (None, False, [], {})}


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
                for key, deps in request.propertyDependencies.items():
                    res.depends_on.extend(deps.urns)
                    res.property_dependencies[key] = list(deps.urns)
                res.options = _options(request)
                break
        return response

    monitor.RegisterResource = register


def revealed(value: Any) -> tuple[Any, bool]:
    """An input as the mocks saw it: (its plain value, whether it was a Pulumi secret)."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return value["value"], True
    return value, False


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


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """``values`` set in ``os.environ`` (None: unset) for the duration, then restored."""

    def put(variables: Mapping[str, str | None]) -> None:
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    saved = {name: os.environ.get(name) for name in values}
    try:
        put(values)
        yield
    finally:
        put(saved)


@contextmanager
def stack_config(config: Mapping[str, Any], secrets: Sequence[str] = ()) -> Iterator[None]:
    """``config`` handed to the program as Pulumi's language host does: the ``PULUMI_CONFIG``
    and ``PULUMI_CONFIG_SECRET_KEYS`` environment, which its program launcher loads into the
    SDK (``set_all_config``). ``secrets`` are the keys set with ``--secret``."""
    encoded = to_pulumi_config(config)
    secret_keys = [key if ":" in key else f"{PROJECT}:{key}" for key in secrets]
    variables = {
        "PULUMI_CONFIG": json.dumps(encoded),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(secret_keys),
    }
    with environment(variables):
        runtime_config.set_all_config(
            runtime_config.get_config_env(), runtime_config.get_config_secret_keys_env()
        )
        yield


def run_function(
    fn: Callable[[], None],
    config: Mapping[str, Any] | None = None,
    *,
    stack: str = "test",
    run: StackRun | None = None,
    secrets: Sequence[str] = (),
    environ: Mapping[str, str | None] | None = None,
) -> StackRun:
    """Run ``fn`` as a Pulumi program under mocks with ``config``; return what it declared.

    ``secrets`` are the config keys set with ``--secret``; ``environ`` changes the program's
    environment (None: unset) on top of :data:`ENVIRONMENT`. Exceptions raised by the program
    (config errors) propagate after the engine settles; pass ``run`` to inspect what was
    declared before the error.
    """
    run = run if run is not None else StackRun()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runtime_settings.reset_options(project=PROJECT, stack=stack)  # fresh settings, no root
    pulumi.runtime.set_mocks(RecordingMocks(run), project=PROJECT, stack=stack, preview=False)
    _patch_monitor_for_options(run)

    async def settle_outputs() -> None:
        root = runtime_settings.get_root_resource()
        outputs = getattr(root, "outputs", {}) or {}
        for key, value in outputs.items():
            out = pulumi.Output.from_input(value)
            run.outputs[key] = await out.future()
            if await out.is_secret():
                run.secret_outputs.add(key)

    try:
        with environment({**ENVIRONMENT, **(environ or {})}), stack_config(config or {}, secrets):
            loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(fn))
            loop.run_until_complete(settle_outputs())
    finally:
        loop.close()
    return run


def run_program(
    config: Mapping[str, Any],
    *,
    stack: str = "test",
    run: StackRun | None = None,
    secrets: Sequence[str] = (),
    environ: Mapping[str, str | None] | None = None,
) -> StackRun:
    """Run the real ``__main__.py`` under mocks with ``config`` (as in ``Pulumi.<stack>.yaml``);
    ``secrets`` are the keys set with ``--secret``, ``environ`` as for :func:`run_function`."""

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    return run_function(program, config, stack=stack, run=run, secrets=secrets, environ=environ)


def run_stack_file(stack: str) -> StackRun:
    """Run a shipped ``Pulumi.<stack>.yaml`` through the real program under mocks."""
    return run_program(load_stack_file(stack), stack=stack)


# --- bad config -----------------------------------------------------------------------------
# One way to write a config test: a shipped stack file, ``changed`` by ``change`` mutations, then
# ``rejected`` (the error, for custom checks) or ``assert_rejected`` (exactly these problems).

Change = Callable[[dict[str, Any]], None]


def change(key: str, *path: str | int, value: Any = None, delete: bool = False) -> Change:
    """A mutation setting (or deleting) one value deep inside a stack file's config.

    ``key`` is the config key without the project prefix; ``path`` goes down into its value
    (mappings missing on the way are created).
    """

    def apply(config: dict[str, Any]) -> None:
        target: Any = config
        keys: list[Any] = [f"{PROJECT}:{key}", *path]
        for part in keys[:-1]:
            target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
        if delete:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return apply


def changed(config: Mapping[str, Any], *changes: Change) -> dict[str, Any]:
    """A copy of ``config`` with ``changes`` applied in order."""
    out = copy.deepcopy(dict(config))
    for apply in changes:
        apply(out)
    return out


def rejected(config: Mapping[str, Any], lab: str, *, stack: str = "bad") -> ConfigError:
    """Run ``config``: it must fail for ``lab`` before any resource is registered."""
    recorded = StackRun()
    with pytest.raises(ConfigError) as caught:
        run_program(config, stack=stack, run=recorded)
    assert recorded.resources == [], "resources were registered before the config was checked"
    assert caught.value.lab == lab, caught.value
    return caught.value


def problems_at(error: ConfigError) -> dict[str, str]:
    """Each problem's rendered line, by the location it names."""
    return {p.location: p.render() for p in error.problems}


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
    error = rejected(config, lab, stack=stack)
    text = str(error)
    for path, words in expected:
        lines = [line for line in text.splitlines() if line.strip().startswith(f"- {path}:")]
        assert lines, f"no problem reported at {path!r} in:\n{text}"
        assert any(words in line for line in lines), f"{path}: {words!r} not in {lines}"
    assert len(error.problems) == len(expected), text
    return error


@dataclass(frozen=True)
class ScriptRun:
    """A command declared by :func:`components.hostexec.run_script`, taken apart."""

    prefix: list[str]
    """What runs the script (``sudo -n --preserve-env=...``), empty when nothing."""
    script: str
    """The script's path in the repository (``scripts/libvirt/disk.sh``)."""
    action: str
    """``create`` or ``delete``."""
    exports: dict[str, str]
    """Variables exported inside the command (a remote host), by name."""


def script_run(command: str) -> ScriptRun:
    """Parse ``[prefix] bash -c <exports + text of a script> <its path> <action>``; the text must
    be the repository's file, byte for byte, as :func:`components.hostexec.script_text` sends
    it (its platform's helpers in place of the line that sources them)."""
    words = shlex.split(command)
    at = words.index("bash")
    assert words[at : at + 2] == ["bash", "-c"] and len(words) == at + 5, command
    text, path, action = words[at + 2 :]
    assert path.startswith("scripts/"), path
    script = script_text(path.removeprefix("scripts/"))
    assert text.endswith(script), f"{path}: the command does not carry the file's text"
    tokens = shlex.split(text[: len(text) - len(script)])
    assert tokens[::2] == ["export"] * (len(tokens) // 2), tokens
    exports = dict(assignment.split("=", 1) for assignment in tokens[1::2])
    return ScriptRun(words[:at], path, action, exports)
