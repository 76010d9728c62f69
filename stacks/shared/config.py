"""A stack's config, read through Pulumi's public API.

- **Values** come from ``pulumi.Config`` (the project's bag). Structured values (objects, lists)
  reach the program as JSON text; they are decoded so that the models see what
  ``Pulumi.<stack>.yaml`` holds.
- **Which keys are set** comes from ``pulumi.runtime.get_config_env()``: the ``PULUMI_CONFIG``
  map the Python language host hands the program, the one listing of the config the SDK offers.
  Every key of the project found there goes to the lab's model, which rejects those it does not
  know. (An Automation API inline program has no such map: only the model's keys are read, and
  a stray key goes unnoticed.)
- **Secrets**: ``pulumi.runtime.is_config_secret`` tells which keys were set with ``--secret``.
  The :class:`~stacks.shared.types.Secret` fields under such a key are bound to what
  ``pulumi.Config.get_secret`` returns, so the value reaches the resources as a Pulumi secret
  on its own. A secret key whose value the lab shows in plain view (a name, an address) is
  reported as a warning: Pulumi cannot keep it secret there.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import BaseModel

from stacks.shared.errors import KeyPath
from stacks.shared.types import Secret

LAB_KEY = "lab"
"""The key that selects the lab."""


def _decode(text: Any) -> Any:
    if isinstance(text, str) and text[:1] in "[{":
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(text)
    return text


def _dig(value: Any, path: KeyPath) -> str:
    for part in path:
        value = value[part]
    return str(value)


def _at(path: KeyPath) -> Callable[[str], str]:
    """The value at ``path`` inside a config value given as text."""
    return lambda text: _dig(_decode(text), path)


def _secrets(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Secret]]:
    """Every :class:`Secret` inside a validated value, with its path in config keys."""
    if isinstance(value, Secret):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            if name in value.__dict__:
                yield from _secrets(value.__dict__[name], (*path, info.alias or name))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _secrets(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _secrets(item, (*path, key))


@dataclass(frozen=True)
class StackConfig:
    """The config of ``project`` in the running stack."""

    project: str

    @property
    def bag(self) -> pulumi.Config:
        return pulumi.Config(self.project)

    def keys(self) -> list[str]:
        """The project's keys that are set, without the project prefix (sorted)."""
        prefix = f"{self.project}:"
        listed = pulumi.runtime.get_config_env()
        return sorted(key[len(prefix) :] for key in listed if key.startswith(prefix))

    def value(self, key: str) -> Any:
        """The value of ``key`` (decoded when structured), None when it is not set."""
        return _decode(self.bag.get(key))

    def is_secret(self, key: str) -> bool:
        return pulumi.runtime.is_config_secret(self.bag.full_key(key))

    def values(self, model: type[BaseModel]) -> dict[str, Any]:
        """What ``model`` validates: its keys that are set, and every other key of the project
        (the model rejects those), except the lab selector."""
        known = [info.alias or name for name, info in model.model_fields.items()]
        found: dict[str, Any] = {}
        for key in dict.fromkeys([*known, *self.keys()]):
            if key == LAB_KEY:
                continue
            value = self.value(key)
            if value is not None:
                found[key] = value
        return found

    def bind_secrets(self, config: BaseModel) -> list[str]:
        """Bind the secrets of ``config`` to the values Pulumi holds as secrets; return the
        secret keys whose values the lab uses in plain view (a warning is logged for each)."""
        plain: list[str] = []
        for name, info in type(config).model_fields.items():
            key = info.alias or name
            if not self.is_secret(key) or name not in config.__dict__:
                continue
            found = list(_secrets(config.__dict__[name], ()))
            if not found:
                plain.append(key)
                pulumi.log.warn(
                    f"config key {key!r} is set as a secret, but this lab uses its value in plain "
                    "view (names, addresses, outputs): set it without --secret"
                )
            source = self.bag.get_secret(key)
            if source is None:
                continue
            for path, secret in found:
                secret.bind(source.apply(_at(path)))
        return plain


def provider_value(provider: str, key: str) -> str | None:
    """A provider's config value (``docker:host``, ``openstack:authUrl``), None when unset."""
    return pulumi.Config(provider).get(key)
