"""Service configuration: command-line flags override environment variables (``CALC_*``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ROLES = ("calculator", "sum", "sub", "mul", "div")
OPERATOR_ROLES = ROLES[1:]
DEFAULT_PORTS = {role: 50000 + index for index, role in enumerate(ROLES)}
SYMBOLS = {"sum": "+", "sub": "-", "mul": "*", "div": "/"}


class ConfigError(ValueError):
    """An invalid setting (reported to the user, exit status 2)."""


def check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "http" or not parts.hostname or port == -1:
        raise ConfigError(f"{name}: expected an http://host:port URL, got {url!r}")
    return url


def default_urls(host: str = "127.0.0.1", base_port: int = 50000) -> dict[str, str]:
    return {
        role: f"http://{host}:{base_port + index}"
        for index, role in enumerate(ROLES)
        if role != "calculator"
    }


@dataclass(slots=True)
class Config:
    role: str
    host: str = "127.0.0.1"
    port: int = 50000
    urls: dict[str, str] = field(default_factory=default_urls)
    timeout: float = 5.0
    expression_timeout: float = 30.0
    max_body: int = 64 * 1024
    max_depth: int = 100
    max_digits: int = 4000
    max_operations: int = 1000
    max_calls: int = 256
    max_calls_per_connection: int = 32
    read_timeout: float = 10.0
    idle_timeout: float = 60.0
    delay: float = 0.0
    access_log: bool = True


# (attribute, environment variable, kind, minimum)
_SETTINGS: tuple[tuple[str, str, type, float], ...] = (
    ("host", "CALC_HOST", str, 0),
    ("port", "CALC_PORT", int, 0),
    ("timeout", "CALC_TIMEOUT", float, 0.001),
    ("expression_timeout", "CALC_EXPRESSION_TIMEOUT", float, 0.001),
    ("max_body", "CALC_MAX_BODY", int, 1),
    ("max_depth", "CALC_MAX_DEPTH", int, 1),
    ("max_digits", "CALC_MAX_DIGITS", int, 1),
    ("max_operations", "CALC_MAX_OPERATIONS", int, 1),
    ("max_calls", "CALC_MAX_CALLS", int, 1),
    ("max_calls_per_connection", "CALC_MAX_CALLS_PER_CONNECTION", int, 1),
    ("read_timeout", "CALC_READ_TIMEOUT", float, 0.01),
    ("idle_timeout", "CALC_IDLE_TIMEOUT", float, 0.01),
    ("delay", "CALC_DELAY", float, 0),
)

ENV_DOC = {env: attr for attr, env, _, _ in _SETTINGS}


def _convert(name: str, raw: object, kind: type, minimum: float) -> object:
    if kind is str:
        text = str(raw).strip()
        if not text:
            raise ConfigError(f"{name}: empty value")
        return text
    try:
        value = kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: not a valid {kind.__name__}: {raw!r}") from exc
    if value < minimum or value != value or value == float("inf"):
        raise ConfigError(f"{name}: must be a finite number >= {minimum}, got {raw!r}")
    return value


def build_config(
    role: str,
    overrides: Mapping[str, object | None],
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Settings for ``role``: ``overrides`` (flags, None = unset), ``environ``, defaults."""
    env = os.environ if environ is None else environ
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    config = Config(role=role, port=DEFAULT_PORTS[role])
    for attr, env_name, kind, minimum in _SETTINGS:
        raw = overrides.get(attr)
        source = f"--{attr.replace('_', '-')}"
        if raw is None and env.get(env_name, "").strip():
            raw, source = env[env_name], env_name
        if raw is not None:
            setattr(config, attr, _convert(source, raw, kind, minimum))
    if config.port > 65535:
        raise ConfigError(f"port out of range: {config.port}")
    urls = default_urls()
    for op in OPERATOR_ROLES:
        raw_url = overrides.get(f"{op}_url") or env.get(f"CALC_{op.upper()}_URL", "").strip()
        if raw_url:
            urls[op] = check_url(f"{op} URL", str(raw_url).strip())
    config.urls = urls
    log = str(overrides.get("access_log") or env.get("CALC_ACCESS_LOG", "1")).strip().lower()
    config.access_log = log not in ("0", "false", "no", "off")
    return config
