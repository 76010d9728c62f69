"""scripts/preview.sh (what CI runs per stack) and scripts/ci/stacks.py, with the recording
stand-ins of tests/cli_doubles.py."""

from __future__ import annotations

import json
import subprocess
from functools import partial
from pathlib import Path

import pytest

from tests.cli_doubles import ROOT, pulumi_calls, run_script

run_preview = partial(run_script, script="preview.sh")

NEEDS = [
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "OS_AUTH_URL",
    "OS_USERNAME",
    "OS_PASSWORD",
    "OS_PROJECT_NAME",
    "OS_USER_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_NAME",
    "OS_REGION_NAME",
]
SECRET = "s3cr3t-value-never-printed"


def credentials(**overrides: str) -> dict[str, str]:
    env = {name: f"{SECRET}-{name}" for name in NEEDS}
    env["PULUMI_BACKEND_URL"] = "s3://lab-state"
    env.update(overrides)
    return env


def test_a_listed_stack_without_its_credentials_names_what_is_missing(tmp_path: Path) -> None:
    env = credentials(OS_PASSWORD="", OS_REGION_NAME="")
    result, calls = run_preview(tmp_path, "openstack-vm", env=env)
    assert result.returncode == 3
    assert "cannot preview openstack-vm: these variables are not set" in result.stderr
    assert "  OS_PASSWORD\n  OS_REGION_NAME\n" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert pulumi_calls(calls) == []


def test_a_configured_stack_is_previewed_with_its_diff_and_the_policy_pack(
    tmp_path: Path,
) -> None:
    result, calls = run_preview(tmp_path, "openstack-vm", "--refresh", env=credentials())
    assert result.returncode == 0, result.stderr
    passphrase = f"{SECRET}-PULUMI_CONFIG_PASSPHRASE"
    assert pulumi_calls(calls) == [
        f"stack select --create openstack-vm|s3://lab-state|{passphrase}",
        f"preview --stack openstack-vm --diff --policy-pack policy --refresh|s3://lab-state|"
        f"{passphrase}",
    ]
    assert SECRET not in result.stdout + result.stderr
    # The policy pack's own virtualenv is ready for the CLI.
    assert (ROOT / "policy" / "venv" / "bin" / "python").is_file()


def test_prepare_stops_before_the_preview(tmp_path: Path) -> None:
    result, calls = run_preview(tmp_path, "--prepare", "openstack-vm", env=credentials())
    assert result.returncode == 0, result.stderr
    assert [c.split("|")[0] for c in pulumi_calls(calls)] == ["stack select --create openstack-vm"]
    assert "openstack-vm is ready: pulumi preview --stack openstack-vm --diff" in result.stderr


def test_an_unlisted_stack_previews_on_local_state_when_logged_out(tmp_path: Path) -> None:
    result, calls = run_preview(tmp_path, "vbox-nat")
    assert result.returncode == 0, result.stderr
    backend = f"file://{ROOT}/.pulumi-state"
    assert pulumi_calls(calls) == [
        "whoami|unset|unset",
        f"stack select --create vbox-nat|{backend}|",
        f"preview --stack vbox-nat --diff --policy-pack policy|{backend}|",
    ]


def test_a_missing_cli_is_installed_as_for_up(tmp_path: Path) -> None:
    result, calls = run_preview(tmp_path, "vbox-nat", with_cli=False)
    assert result.returncode == 0, result.stderr
    assert any(c.startswith("installer --version") for c in calls)
    assert pulumi_calls(calls)[-1].startswith("preview --stack vbox-nat")


@pytest.mark.parametrize("args", [(), ("nope",)])
def test_usage_and_unknown_stacks(tmp_path: Path, args: tuple[str, ...]) -> None:
    result, calls = run_preview(tmp_path, *args)
    assert result.returncode == 2
    assert calls == []


def stacks_py(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "scripts" / "ci" / "stacks.py"), *args],
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_matrix_holds_only_the_configured_stacks() -> None:
    result = stacks_py("matrix", env=credentials())
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    stacks = [entry["stack"] for entry in json.loads(lines["matrix"])["include"]]
    assert stacks == ["openstack-vm", "openstack-calculator", "openstack-naas", "openstack-k8s"]
    assert lines["any"] == "true"
    none = stacks_py("matrix", env=credentials(OS_AUTH_URL=""))
    assert none.stdout.splitlines() == ['matrix={"include":[]}', "any=false"]
    assert "openstack-vm: not previewed, unset: OS_AUTH_URL" in none.stderr
    assert SECRET not in none.stdout + none.stderr + result.stdout + result.stderr


def test_each_listed_stack_has_an_up_environment() -> None:
    assert stacks_py("environment", "openstack-k8s").stdout == "up-openstack-k8s\n"
    unlisted = stacks_py("environment", "dev")
    assert unlisted.returncode == 2 and "not listed in ci/stacks.yaml" in unlisted.stderr
