"""Access to the OpenStack project, checked before anything is asked of it.

Before the first invoke (the external network's lookup), :func:`find_credentials` checks that
the OpenStack provider has somewhere to authenticate, in the provider's own order:

1. the provider config ``openstack:authUrl`` (``pulumi config set openstack:authUrl ...``);
2. the environment ``OS_AUTH_URL`` (an OpenStack RC file, ``source``-d);
3. a cloud named by ``openstack:cloud`` or ``OS_CLOUD``, defined in the first ``clouds.yaml``
   found among ``OS_CLIENT_CONFIG_FILE``, ``./clouds.yaml``,
   ``~/.config/openstack/clouds.yaml`` and ``/etc/openstack/clouds.yaml`` (with an
   ``auth.auth_url`` or a vendor ``profile``).

None of them: one message names what to set. :func:`external_network` then looks the network
up; when that fails (a wrong name, an auth URL that does not answer, credentials refused) the
message names the config key and the auth URL tried, without a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi_openstack as openstack
import yaml

from stacks.shared.config import provider_value
from stacks.shared.errors import OpenStackAccessError

SYSTEM_CLOUDS = Path("/etc/openstack/clouds.yaml")
_HOW = (
    "set one of:\n"
    "  - the OS_* environment of your project's OpenStack RC file (OS_AUTH_URL, OS_USERNAME, "
    "OS_PASSWORD, OS_PROJECT_NAME, ...): download it from the dashboard and `source` it;\n"
    "  - OS_CLOUD (or `pulumi config set openstack:cloud <name>`) naming a cloud of a "
    "clouds.yaml in ./clouds.yaml, ~/.config/openstack/clouds.yaml or "
    "/etc/openstack/clouds.yaml (or the file OS_CLIENT_CONFIG_FILE names);\n"
    "  - the provider config: `pulumi config set openstack:authUrl <url>` with "
    "openstack:userName, openstack:password (--secret), openstack:tenantName, ..."
)


@dataclass(frozen=True)
class Credentials:
    """Where the provider will authenticate."""

    auth_url: str
    """The identity service's URL (or ``profile <name>`` for a vendor profile)."""
    source: str
    """Where it comes from: ``openstack:authUrl``, ``OS_AUTH_URL``, a cloud of a clouds.yaml."""

    def describe(self) -> str:
        return f"{self.auth_url} (from {self.source})"


def clouds_files(environ: Mapping[str, str], cwd: Path, home: Path) -> list[Path]:
    """The clouds.yaml files the provider looks at, in its order."""
    places = [cwd / "clouds.yaml", home / ".config/openstack/clouds.yaml", SYSTEM_CLOUDS]
    named = environ.get("OS_CLIENT_CONFIG_FILE")
    return [Path(named), *places] if named else places


def _cloud_entry(files: list[Path], cloud: str, selected_by: str) -> Credentials:
    found = next((f for f in files if f.is_file()), None)
    if found is None:
        raise OpenStackAccessError(
            f"{selected_by} names the cloud {cloud!r}, but there is no clouds.yaml "
            f"(looked at {', '.join(str(f) for f in files)}); {_HOW}"
        )
    try:
        data: Any = yaml.safe_load(found.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise OpenStackAccessError(f"{found} cannot be read as YAML: {error}") from None
    entry = (data.get("clouds") or {}).get(cloud) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        known = sorted((data.get("clouds") or {}) if isinstance(data, dict) else [])
        raise OpenStackAccessError(
            f"{selected_by} names the cloud {cloud!r}, which {found} does not define "
            f"(its clouds: {', '.join(known) or 'none'})"
        )
    auth_url = (entry.get("auth") or {}).get("auth_url")
    if auth_url:
        return Credentials(str(auth_url), f"cloud {cloud!r} in {found}")
    if entry.get("profile"):
        return Credentials(f"profile {entry['profile']}", f"cloud {cloud!r} in {found}")
    raise OpenStackAccessError(
        f"the cloud {cloud!r} in {found} has no auth.auth_url (nor a vendor profile); add it"
    )


def find_credentials(
    environ: Mapping[str, str],
    provider: Mapping[str, str | None],
    cwd: Path,
    home: Path,
) -> Credentials:
    """Where the provider will authenticate, from its config (``provider``: ``authUrl`` and
    ``cloud`` of the ``openstack`` namespace), the environment and the clouds.yaml files; an
    :class:`OpenStackAccessError` naming what to set when there is nothing."""
    if provider.get("authUrl"):
        return Credentials(str(provider["authUrl"]), "openstack:authUrl")
    if environ.get("OS_AUTH_URL"):
        return Credentials(environ["OS_AUTH_URL"], "OS_AUTH_URL")
    cloud, selected_by = provider.get("cloud"), "openstack:cloud"
    if not cloud:
        cloud, selected_by = environ.get("OS_CLOUD"), "OS_CLOUD"
    if cloud:
        return _cloud_entry(clouds_files(environ, cwd, home), cloud, selected_by)
    raise OpenStackAccessError(f"OpenStack credentials are not configured; {_HOW}")


def credentials() -> Credentials:
    """:func:`find_credentials` for this program: its environment, the stack's provider
    config, its working directory and the user's home."""
    provider = {key: provider_value("openstack", key) for key in ("authUrl", "cloud")}
    return find_credentials(os.environ, provider, Path.cwd(), Path.home())


@dataclass(frozen=True)
class ExternalNetwork:
    """The provider's public network, looked up by name."""

    name: str
    id: str


def external_network(name: str, key: str = "externalNetwork") -> ExternalNetwork:
    """Check that credentials are configured, then look up the external network ``name`` (the
    value of config ``key``); every failure is one message, never a traceback."""
    access = credentials()
    try:
        found = openstack.networking.get_network(name=name, external=True)
    except Exception as error:  # the provider's error, whatever it is, becomes the message
        reason = " ".join(str(error).split())[:600] or type(error).__name__
        raise OpenStackAccessError(
            f"{key}: the external network {name!r} could not be looked up through "
            f"{access.describe()}: {reason}. Check the name (`openstack network list "
            "--external`) and that the auth URL answers from this machine with these "
            "credentials."
        ) from None
    return ExternalNetwork(name=name, id=str(found.id))
