"""The calculator's cloud-init user-data, rendered directly from the real package.

Each role's document passes ``cloud-init schema``, stays under Nova's size limit, carries a
deterministic archive that python3 imports with no pip, and a unit ``systemd-analyze`` accepts.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from calculator.config import DEFAULT_PORTS, ROLES
from calculator.config import OPERATOR_ROLES as OPERATORS
from components.calculator_bootstrap import (
    DROP_IN,
    UNIT_TEMPLATE,
    USER_DATA_LIMIT,
    BootstrapSpec,
    CalculatorPackage,
    env_path,
    load_package,
    nova_size,
    package_archive,
    render_user_data,
    service_url,
)
from components.renderers.cloudinit import AptMirror
from tests.harness import ARMORED_KEY, ROOT
from tests.validators import assert_cloud_config_valid, require

CALCULATOR = ROOT / "calculator"
UPSTREAMS = {
    op: service_url(f"192.168.2.{11 + i}", DEFAULT_PORTS[op]) for i, op in enumerate(OPERATORS)
}


@pytest.fixture(scope="module")
def package() -> CalculatorPackage:
    return load_package(CALCULATOR)


def spec(role: str, **extra: Any) -> BootstrapSpec:
    upstreams = UPSTREAMS if role == "calculator" else {}
    return BootstrapSpec(role=role, port=DEFAULT_PORTS[role], upstreams=upstreams, **extra)


def files_of(user_data: str) -> dict[str, bytes]:
    doc = yaml.safe_load(user_data)
    out: dict[str, bytes] = {}
    for entry in doc["write_files"]:
        content = entry["content"]
        out[entry["path"]] = (
            base64.b64decode(content) if entry.get("encoding") == "b64" else content.encode()
        )
    return out


def env_of(user_data: str, role: str) -> dict[str, str]:
    text = files_of(user_data)[f"/etc/calculator/{role}.env"].decode()
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_is_valid_cloud_config_under_novas_limit(
    role: str, package: CalculatorPackage
) -> None:
    user_data = render_user_data(
        spec(
            role, apt_mirror=AptMirror("http://deb.debian.org/debian", key=ARMORED_KEY), timeout=5.0
        ),
        package,
    )
    assert_cloud_config_valid(user_data, f"{role}-user-data")
    assert nova_size(user_data) <= USER_DATA_LIMIT, f"{role}: {nova_size(user_data)} bytes"
    # Nova checks the base64 form: the raw document is about 3/4 of it.
    assert len(user_data.encode()) < USER_DATA_LIMIT * 3 // 4


def test_same_inputs_same_bytes(package: CalculatorPackage) -> None:
    again = load_package(CALCULATOR)
    assert again.archive == package.archive
    assert render_user_data(spec("calculator"), again) == render_user_data(
        spec("calculator"), package
    )


def test_archive_is_deterministic_whatever_the_order_of_files() -> None:
    files = {"calculator/b.py": b"B = 2\n", "calculator/a.py": b"A = 1\n"}
    reordered = dict(reversed(list(files.items())))
    assert package_archive(files) == package_archive(reordered)
    with zipfile.ZipFile(io.BytesIO(package_archive(files))) as archive:
        assert archive.namelist() == ["calculator/a.py", "calculator/b.py"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_archive_holds_the_package_sources_only(package: CalculatorPackage) -> None:
    sources = {
        p.relative_to(CALCULATOR / "src").as_posix()
        for p in (CALCULATOR / "src" / "calculator").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(io.BytesIO(package.archive)) as archive:
        names = set(archive.namelist())
    assert sources <= names
    assert all(n.startswith("calculator/") and "__pycache__" not in n for n in names), names
    assert not any(n.endswith(".pyc") for n in names)


def test_python_imports_the_archive_without_pip(package: CalculatorPackage, tmp_path: Path) -> None:
    archive = tmp_path / package.filename
    archive.write_bytes(package.archive)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(archive), "PYTHONNOUSERSITE": "1"}
    # -S: no site-packages (where this project's environment may hold the calculator too).
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import calculator; print(calculator.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{archive}/calculator/__init__.py"
    result = subprocess.run(
        [sys.executable, "-S", "-m", "calculator", "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "--sum-url" in result.stdout


def test_front_end_environment_names_the_four_operators(package: CalculatorPackage) -> None:
    env = env_of(render_user_data(spec("calculator", timeout=2.5), package), "calculator")
    assert env == {
        "CALC_PYTHON": "/usr/bin/python3",
        "PYTHONPATH": package.path,
        "CALC_HOST": "0.0.0.0",
        "CALC_PORT": "50000",
        "CALC_SUM_URL": "http://192.168.2.11:50001",
        "CALC_SUB_URL": "http://192.168.2.12:50002",
        "CALC_MUL_URL": "http://192.168.2.13:50003",
        "CALC_DIV_URL": "http://192.168.2.14:50004",
        "CALC_TIMEOUT": "2.5",
    }


@pytest.mark.parametrize("role", OPERATORS)
def test_operator_environment_is_its_port_and_bind_address(
    role: str, package: CalculatorPackage
) -> None:
    user_data = render_user_data(spec(role, bind_address="10.0.0.5", timeout=9.0), package)
    assert env_of(user_data, role) == {
        "CALC_PYTHON": "/usr/bin/python3",
        "PYTHONPATH": package.path,
        "CALC_HOST": "10.0.0.5",
        "CALC_PORT": str(DEFAULT_PORTS[role]),
    }


def test_the_packages_unit_template_restarts_on_failure_and_is_started_by_runcmd(
    package: CalculatorPackage,
) -> None:
    user_data = render_user_data(spec("mul"), package)
    doc = yaml.safe_load(user_data)
    files = files_of(user_data)
    shipped = (CALCULATOR / "systemd" / UNIT_TEMPLATE).read_text()
    assert files[f"/etc/systemd/system/{UNIT_TEMPLATE}"].decode() == shipped
    assert "Restart=on-failure" in shipped
    assert "ExecStart=" in shipped and "serve %i" in shipped
    drop_in = files[f"/etc/systemd/system/{UNIT_TEMPLATE}.d/cloudlabs.conf"].decode()
    assert "StartLimitIntervalSec=0" in drop_in  # never gives up restarting
    assert env_path(shipped, "mul") == "/etc/calculator/mul.env"
    assert doc["runcmd"] == [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "calculator@mul.service"],
    ]
    assert (
        doc["write_files"][0]["path"]
        == package.path
        == (f"/opt/calculator/cloudlabs_calculator-{package.version}.zip")
    )
    assert doc["write_files"][0]["encoding"] == "b64"


def verify_unit(text: str, role: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` on the instance ``role`` of a unit template's text."""
    path = tmp_path / UNIT_TEMPLATE.replace("@", f"@{role}")
    path.write_text(text)
    return subprocess.run(
        [require("systemd-analyze"), "verify", str(path)], capture_output=True, text=True
    )


@pytest.mark.parametrize("role", ROLES)
def test_systemd_accepts_the_unit_with_its_drop_in(
    role: str, package: CalculatorPackage, tmp_path: Path
) -> None:
    result = verify_unit(package.unit_template + DROP_IN, role, tmp_path)
    assert result.returncode == 0, result.stderr
    # verify reports unknown or malformed settings as warnings only: there must be none.
    assert "calculator@" not in result.stderr, result.stderr


def test_systemd_check_catches_a_bad_unit(package: CalculatorPackage, tmp_path: Path) -> None:
    # The counterpart of the check above: the same verification does see a broken setting.
    broken = package.unit_template + DROP_IN.replace("StartLimitIntervalSec=0", "StartLimit=x")
    assert "calculator@sum" in verify_unit(broken, "sum", tmp_path).stderr


def test_a_template_without_environment_file_is_refused() -> None:
    with pytest.raises(ValueError, match="EnvironmentFile"):
        env_path("[Service]\nExecStart=/bin/true\n", "sum")


def test_packages_and_mirror_come_from_the_spec(package: CalculatorPackage) -> None:
    doc = yaml.safe_load(
        render_user_data(
            spec(
                "sum",
                packages=("python3=3.11.2-1+b1", "ca-certificates"),
                package_update=False,
                apt_mirror=AptMirror("http://mirror.example.org/debian"),
            ),
            package,
        )
    )
    assert doc["packages"] == [["python3", "3.11.2-1+b1"], "ca-certificates"]
    assert doc["package_update"] is False
    assert doc["apt"] == {
        "primary": [{"arches": ["default"], "uri": "http://mirror.example.org/debian"}]
    }
    bare = yaml.safe_load(render_user_data(spec("sum", packages=()), package))
    assert "apt" not in bare and "packages" not in bare


def test_front_end_needs_all_four_operators() -> None:
    with pytest.raises(ValueError, match="front end needs"):
        BootstrapSpec(role="calculator", port=50000, upstreams={"sum": "http://x:1"})
    with pytest.raises(ValueError, match="takes no upstream"):
        BootstrapSpec(role="sum", port=50001, upstreams=UPSTREAMS)
    with pytest.raises(ValueError, match="unknown role"):
        BootstrapSpec(role="pow", port=50005)


def test_the_operator_url_variables_are_the_ones_the_calculator_reads() -> None:
    from calculator.config import build_config
    from components.calculator_bootstrap import url_variable

    environ = {url_variable(op): f"http://192.0.2.1:{6000 + i}" for i, op in enumerate(OPERATORS)}
    config = build_config(ROLES[0], {}, environ)
    assert config.urls == {op: environ[url_variable(op)] for op in OPERATORS}
