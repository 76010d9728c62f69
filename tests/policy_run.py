"""Evaluate the policy pack on what a program declared under the mocks harness.

The recorded resources are handed to the pack's policies in ``pulumi_policy``'s own types, the
way the engine hands them over: a resource policy gets ``ResourceValidationArgs`` with the
resource's inputs, a stack policy ``StackValidationArgs`` with every resource's outputs
(``PolicyResource``, parents, dependencies and property dependencies linked) plus the stack
resource carrying the stack's outputs. Properties go through the SDK's own deserializer (secrets
unwrapped) and its unknown-checking proxy, and each policy's ``validate`` is called as the SDK
calls it; what it reports is collected with the policy's name and the resource's URN.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from cloudlabs_policy import build_policies
from cloudlabs_policy.stack_config import ConfigPath, StackConfig, secure_paths
from tests.harness import PROJECT, ROOT, StackRun, load_stack_file, run_stack_file, to_pulumi_config

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Violation:
    policy: str
    urn: str
    message: str
    level: EnforcementLevel

    def __str__(self) -> str:
        return f"[{self.level.value}] {self.policy} at {self.urn}: {self.message}"


def stack_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{STACK_TYPE}::{PROJECT}-{stack}"


def _props(raw: Mapping[str, Any]) -> Any:
    """Properties as the SDK presents them: deserialized (secrets unwrapped), unknown-checked."""
    return unknown_checking_proxy(deserialize_properties(dict(raw)))


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent,
    )


def _secret(value: Any) -> dict[str, Any]:
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


def stack_outputs(run: StackRun) -> dict[str, Any]:
    """The stack resource's outputs in wire form: secret outputs marked as the engine marks them."""
    return {k: _secret(v) if k in run.secret_outputs else v for k, v in run.outputs.items()}


def policy_resources(run: StackRun, stack: str) -> list[PolicyResource]:
    """Every recorded resource (with its outputs) and the stack resource, linked."""
    root = stack_urn(stack)
    entries: list[tuple[PolicyResource, str | None, list[str], dict[str, list[str]]]] = [
        (
            PolicyResource(
                STACK_TYPE,
                _props(stack_outputs(run)),
                root,
                f"{PROJECT}-{stack}",
                _options(None),
                None,
                None,
                [],
                {},
            ),
            None,
            [],
            {},
        )
    ]
    for res in run.resources:
        entries.append(
            (
                PolicyResource(
                    res.type,
                    _props(res.state),
                    res.urn,
                    res.name,
                    _options(res.parent),
                    None,
                    None,
                    [],
                    {},
                ),
                res.parent,
                list(dict.fromkeys(res.depends_on)),
                res.property_dependencies,
            )
        )
    by_urn = {entry[0].urn: entry[0] for entry in entries}
    for resource, parent, deps, prop_deps in entries:
        resource.parent = by_urn.get(parent) if parent else None
        resource.dependencies = [by_urn[d] for d in deps if d in by_urn]
        for key, urns in prop_deps.items():
            resource.property_dependencies[key] = [by_urn[u] for u in urns if u in by_urn]
    return [entry[0] for entry in entries]


def _settle(result: Any) -> None:
    if inspect.isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


def _reporter(
    found: list[Violation], policy: Policy, urn: str, *, fixed: bool
) -> Callable[[str, str | None], None]:
    """A ``report_violation`` filing under ``urn`` (always, when ``fixed``: the engine files a
    resource policy's reports under the resource it analyzes)."""
    level = policy.enforcement_level or EnforcementLevel.MANDATORY

    def report(message: str, at: str | None = None) -> None:
        found.append(Violation(policy.name, urn if fixed or not at else at, message, level))

    return report


def evaluate(run: StackRun, stack: str, config: StackConfig) -> list[Violation]:
    """Every violation the pack reports on ``run`` with the stack config ``config``."""
    found: list[Violation] = []
    for policy in build_policies(lambda: config):
        try:
            if isinstance(policy, ResourceValidationPolicy):
                for res in run.resources:
                    args = ResourceValidationArgs(
                        res.type, _props(res.inputs), res.urn, res.name, _options(res.parent), None
                    )
                    _settle(policy.validate(args, _reporter(found, policy, res.urn, fixed=True)))
            elif isinstance(policy, StackValidationPolicy):
                stack_args = StackValidationArgs(policy_resources(run, stack))
                report = _reporter(found, policy, stack_urn(stack), fixed=False)
                _settle(policy.validate(stack_args, report))
        except UnknownValueError as error:  # what the SDK turns into an advisory note
            note = f"can't run during preview: {error.message}"
            found.append(Violation(policy.name, "", note, EnforcementLevel.ADVISORY))
    return found


def shipped_config(stack: str) -> StackConfig:
    """A shipped stack's config as the engine passes it, with its file's ``secure:`` paths."""
    return StackConfig(
        values=to_pulumi_config(load_stack_file(stack)),
        secret_paths=frozenset(secure_paths(ROOT / f"Pulumi.{stack}.yaml")),
    )


def config_of(config: Mapping[str, Any], secret: Iterable[ConfigPath] = ()) -> StackConfig:
    """A crafted config (keys as in a stack file) with ``secret`` paths marked secret."""
    return StackConfig(values=to_pulumi_config(config), secret_paths=frozenset(secret))


def evaluate_shipped(stack: str) -> list[Violation]:
    return evaluate(run_stack_file(stack), stack, shipped_config(stack))
