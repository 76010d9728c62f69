"""cloud-init user-data that installs and starts one calculator service on a fresh VM.

Pure functions of validated values (tested directly, validated by ``cloud-init schema``):

- :func:`package_archive` packs the calculator's sources into a deterministic zip. Python imports
  a package straight from a zip on ``PYTHONPATH`` (zipimport), so the VM needs only python3 from
  its distribution: no pip, no index, no access to this repository.
- :func:`render_user_data` writes the ``#cloud-config`` document for one role: the distribution
  packages to install (from a configurable apt mirror), the archive (base64 in ``write_files``),
  the role's environment file (bind address, port, the operators' URLs for the front end) and the
  calculator's own systemd unit template (``calculator/systemd/calculator@.service``: restarts on
  failure) with a drop-in that never stops restarting it; ``runcmd`` enables and starts the
  role's instance, ``calculator@<role>.service``.

:func:`load_package` is the one function that reads files: the calculator's sources and unit
template under ``calculator/`` in this tree.
"""

from __future__ import annotations

import base64
import io
import re
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from calculator.config import OPERATOR_ROLES, ROLES
from components.renderers import cloudinit
from components.renderers.cloudinit import (
    AptMirror,
    Commands,
    File,
    Files,
    Packages,
    Part,
    binary_file,
)

FRONT_END = ROLES[0]
"""The calculator's front end (the four others are operators: ``OPERATOR_ROLES``). The roles
and their default ports are the calculator's own (``calculator.config``)."""


def url_variable(role: str) -> str:
    """The variable from which the front end reads an operator's URL (``CALC_SUM_URL``), as
    ``calculator.config`` names it (its sources are not changed for this: their bytes are in
    every VM's user-data)."""
    return f"CALC_{role.upper()}_URL"


USER_DATA_LIMIT = 65535
"""Nova's limit on user-data, which it receives base64-encoded: see :func:`nova_size`."""

INSTALL_DIR = "/opt/calculator"
UNIT_DIR = "/etc/systemd/system"
UNIT_TEMPLATE = "calculator@.service"
"""The calculator's unit template (``calculator/systemd/``), one instance per role."""
PYTHON = "/usr/bin/python3"
"""The distribution's interpreter, from the ``python3`` package."""

# Restart for ever: Restart=on-failure alone gives up after 5 failures within 10 seconds.
DROP_IN = """\
# cloud-labs: keep restarting the service whatever the number of failures.
[Unit]
StartLimitIntervalSec=0
"""

_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: same sources, same archive bytes
_PACKAGE = "calculator"


@dataclass(frozen=True)
class CalculatorPackage:
    """The calculator as an importable zip archive."""

    version: str
    """The distribution's version (``[project].version`` of calculator/pyproject.toml)."""
    archive: bytes
    """A zip holding ``calculator/*.py`` at its root (importable from ``PYTHONPATH``)."""
    unit_template: str
    """The package's systemd unit template (``calculator@.service``)."""

    @property
    def filename(self) -> str:
        return f"cloudlabs_calculator-{self.version}.zip"

    @property
    def path(self) -> str:
        """Where the archive is written on the VM."""
        return f"{INSTALL_DIR}/{self.filename}"


@dataclass(frozen=True)
class BootstrapSpec:
    """What one VM runs: its role, where it listens, where it finds the operators."""

    role: str
    """One of :data:`ROLES`."""
    port: int
    """The service's TCP port."""
    bind_address: str = "0.0.0.0"
    """The address the service listens on (all addresses by default)."""
    upstreams: Mapping[str, str] = field(default_factory=dict)
    """Front end only: operator role -> URL (``http://<address>:<port>``), all four."""
    timeout: float | None = None
    """Front end only: seconds to wait for one operator call (``CALC_TIMEOUT``)."""
    limits: Mapping[str, str] = field(default_factory=dict)
    """Further settings by the calculator's variable name (``CALC_MAX_BODY``...)."""
    packages: Sequence[str] = ("python3",)
    """Distribution packages to install, ``name`` or ``name=version``."""
    package_update: bool = True
    """Refresh the package index before installing (``apt-get update``)."""
    apt_mirror: AptMirror | None = None
    """The primary apt mirror (Debian/Ubuntu images); None keeps the image's own."""
    files: Sequence[File] = ()
    """More files written on first boot (the benchmark suite's, when the lab has it)."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {ROLES}")
        if self.role == FRONT_END:
            if sorted(self.upstreams) != sorted(OPERATOR_ROLES):
                raise ValueError(f"the front end needs the URLs of {OPERATOR_ROLES}")
        elif self.upstreams:
            raise ValueError(f"the {self.role} service takes no upstream URLs")


def unit_name(role: str) -> str:
    """The systemd unit running ``role``: an instance of the package's template."""
    return UNIT_TEMPLATE.replace("@", f"@{role}")


def env_path(template: str, role: str) -> str:
    """The environment file the unit ``template`` reads for ``role`` (its ``EnvironmentFile``)."""
    found: list[str] = re.findall(r"^EnvironmentFile=-?(\S+)$", template, flags=re.MULTILINE)
    if len(found) != 1:
        raise ValueError(f"the unit template must name one EnvironmentFile, not {found}")
    return found[0].replace("%i", role)


def service_url(address: str, port: int) -> str:
    """The URL of a service at ``address`` (an IPv4 address or a host name)."""
    return f"http://{address}:{port}"


def package_archive(files: Mapping[str, bytes]) -> bytes:
    """A deterministic zip of ``files`` (archive path -> content): sorted, fixed dates."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, _DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            entry.create_system = 3  # Unix, whatever the building machine
            archive.writestr(entry, files[name], compresslevel=9)
    return buffer.getvalue()


def load_package(project: Path) -> CalculatorPackage:
    """The calculator at ``project`` (the directory holding its pyproject.toml), zipped.

    Only the import package's Python sources and markers are taken (``src/calculator``), not
    tests, caches or byte code; and the unit template ``systemd/calculator@.service``.
    """
    with (project / "pyproject.toml").open("rb") as handle:
        version = str(tomllib.load(handle)["project"]["version"])
    source = project / "src"
    files = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in sorted((source / _PACKAGE).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed")
    }
    if f"{_PACKAGE}/__main__.py" not in files:
        raise FileNotFoundError(f"no {_PACKAGE}/__main__.py under {source}")
    template = (project / "systemd" / UNIT_TEMPLATE).read_text(encoding="utf-8")
    env_path(template, "sum")  # fails early on a template this renderer cannot configure
    return CalculatorPackage(
        version=version, archive=package_archive(files), unit_template=template
    )


def render_env(spec: BootstrapSpec, package: CalculatorPackage) -> str:
    """The unit's environment file (systemd ``EnvironmentFile`` syntax, one ``KEY=value``)."""
    lines = [
        f"# cloud-labs calculator: {spec.role} service (written by cloud-init)",
        f"CALC_PYTHON={PYTHON}",
        f"PYTHONPATH={package.path}",
        f"CALC_HOST={spec.bind_address}",
        f"CALC_PORT={spec.port}",
    ]
    for role in OPERATOR_ROLES:
        if role in spec.upstreams:
            lines.append(f"{url_variable(role)}={spec.upstreams[role]}")
    if spec.timeout is not None and spec.role == FRONT_END:
        lines.append(f"CALC_TIMEOUT={spec.timeout:g}")
    lines += [f"{name}={value}" for name, value in spec.limits.items()]
    return "\n".join(lines) + "\n"


def user_data_parts(spec: BootstrapSpec, package: CalculatorPackage) -> list[Part | None]:
    """The cloud-config of one role, as the builder's parts (see :func:`render_user_data`)."""
    return [
        spec.apt_mirror,
        Packages(spec.packages, update=spec.package_update),
        Files(
            [
                binary_file(package.path, package.archive),
                File(env_path(package.unit_template, spec.role), render_env(spec, package)),
                File(f"{UNIT_DIR}/{UNIT_TEMPLATE}", package.unit_template),
                File(f"{UNIT_DIR}/{UNIT_TEMPLATE}.d/cloudlabs.conf", DROP_IN),
                *spec.files,
            ]
        ),
        Commands(
            [
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "--now", unit_name(spec.role)],
            ]
        ),
    ]


def render_user_data(spec: BootstrapSpec, package: CalculatorPackage) -> str:
    """The ``#cloud-config`` user-data of one role; same inputs, same bytes."""
    return cloudinit.render_user_data(*user_data_parts(spec, package))


def nova_size(user_data: str) -> int:
    """The size Nova checks against :data:`USER_DATA_LIMIT`: the base64 of the user-data."""
    return len(base64.b64encode(user_data.encode("utf-8")))
