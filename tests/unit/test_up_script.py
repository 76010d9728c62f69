"""scripts/up.sh: the README's main command, driven with the recording stand-ins of
tests/cli_doubles.py (Pulumi CLI, its installer, curl, the docker CLI without a registry)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import yaml

from tests.cli_doubles import FAKE_PULUMI, PINNED, ROOT, pulumi_calls, run_script, write_script

run_up = partial(run_script, script="up.sh")


def test_unknown_stack_lists_the_shipped_ones(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "nope")
    assert result.returncode == 2
    assert "openstack-vm" in result.stderr and "dev" in result.stderr
    assert calls == []


def test_logged_out_user_gets_local_state_and_up_on_the_stack(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", "--yes")
    assert result.returncode == 0, result.stderr
    backend = f"file://{ROOT}/.pulumi-state"
    assert calls[0].startswith("whoami|")
    assert calls[1:] == [
        f"stack select --create openstack-vm|{backend}|",
        f"up --stack openstack-vm --yes|{backend}|",
    ]


def test_logged_in_user_keeps_their_backend(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", whoami_rc=0)
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "up --stack openstack-vm|unset|unset"


# --- the Pulumi CLI ---------------------------------------------------------------------------


def test_missing_cli_is_installed_at_the_tested_version_into_home(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", "--yes", with_cli=False)
    assert result.returncode == 0, result.stderr
    assert calls[0] == (
        f"curl -fsSL --retry 2 -o {calls[0].split(' -o ')[1].split()[0]} "
        "https://get.pulumi.com/install.sh"
    )
    assert calls[1] == (
        f"installer --version {PINNED} --install-root {tmp_path}/.pulumi --no-edit-path"
    )
    assert (tmp_path / ".pulumi" / "bin" / "pulumi").is_file()
    # The installed CLI runs the rest.
    assert pulumi_calls(calls)[-1].startswith("up --stack openstack-vm --yes|")
    assert f"installing Pulumi {PINNED} into ~/.pulumi" in result.stderr
    assert f"installed Pulumi v{PINNED}" in result.stderr
    assert 'export PATH="$HOME/.pulumi/bin:$PATH"' in result.stderr


def test_the_pin_is_the_sdk_version_the_project_is_tested_with() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("pulumi==")
    )
    assert pins["pulumi"] == PINNED


def test_an_installed_cli_off_the_path_is_used(tmp_path: Path) -> None:
    home_bin = tmp_path / ".pulumi" / "bin"
    home_bin.mkdir(parents=True)
    write_script(home_bin / "pulumi", FAKE_PULUMI)
    result, calls = run_up(tmp_path, "openstack-vm", with_cli=False)
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith(("curl", "installer")) for c in calls)
    assert "using the Pulumi CLI in ~/.pulumi/bin" in result.stderr


def test_an_unreachable_installer_says_what_failed_and_how_to_install(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", with_cli=False, curl="fail")
    assert result.returncode == 127
    assert (
        "could not download the Pulumi installer from https://get.pulumi.com/install.sh: "
        "curl: (6) Could not resolve host: get.pulumi.com/install.sh" in result.stderr
    )
    assert f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PINNED}" in result.stderr
    assert pulumi_calls(calls) == []


def test_a_failing_installer_says_so(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", with_cli=False, installer_rc=1)
    assert result.returncode == 127
    assert "the Pulumi installer failed (exit 1)" in result.stderr
    assert f"error: could not download pulumi-v{PINNED}" in result.stderr
    assert "Install it by hand" in result.stderr
    assert pulumi_calls(calls) == []


# --- the dev stack's base image -----------------------------------------------------------------


def test_a_base_image_the_engine_has_is_used_as_configured(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "dev", "--yes", docker_images="python:3.12-slim")
    assert result.returncode == 0, result.stderr
    assert "docker pull python:3.12-slim" not in calls
    assert pulumi_calls(calls)[-1].startswith("up --stack dev --yes|")


def test_a_pullable_base_image_is_pulled(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "dev", docker_pull="ok")
    assert result.returncode == 0, result.stderr
    assert "docker pull python:3.12-slim" in calls
    assert "--config-file" not in pulumi_calls(calls)[-1]


def test_without_a_registry_the_local_base_image_is_built_and_used(tmp_path: Path) -> None:
    result, calls = run_up(
        tmp_path, "dev", "--yes", docker_images="cloudlabs/base:bookworm", docker_pull="fail"
    )
    assert result.returncode == 0, result.stderr
    assert "cannot pull python:3.12-slim: Error response from daemon" in result.stderr
    assert "using it for this run instead (baseImage=cloudlabs/base:bookworm)" in result.stderr
    # scripts/setup/base-image.sh ran (and found its image current: nothing was built here).
    probe = "docker run --rm --network none cloudlabs/base:bookworm"
    assert any(c.startswith(probe) for c in calls)
    run_config = ROOT / ".pulumi-state" / "run" / "Pulumi.dev.yaml"
    up = pulumi_calls(calls)[-1].split("|")[0]
    assert up == f"up --stack dev --config-file {run_config.relative_to(ROOT)} --yes"
    config = yaml.safe_load(run_config.read_text())["config"]
    shipped = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert config == {**shipped, "cloud-labs:baseImage": "cloudlabs/base:bookworm"}


def test_a_base_image_that_cannot_be_built_stops_with_the_reason(tmp_path: Path) -> None:
    result, calls = run_up(
        tmp_path,
        "dev",
        docker_images="cloudlabs/base:bookworm",
        docker_pull="fail",
        docker_run="fail",
    )
    assert result.returncode == 1
    assert "does not run python3" in result.stderr
    assert "could not build cloudlabs/base:bookworm" in result.stderr
    assert "pulumi config set baseImage IMAGE" in result.stderr
    assert not any(c.startswith("up ") for c in pulumi_calls(calls))
