"""The GitHub workflows (.github/workflows/): actionlint passes on them, shellcheck on their run:
blocks, and they do what the README says (previews on pull requests and main, `up` by hand
behind an environment, project scripts in every step, secrets only from GitHub secrets)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".tools" / "bin" / "actionlint"  # built by scripts/setup/actionlint.sh
PULUMI_ACTION = "pulumi/actions@v7.0.0"


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the key `on` as True.
    data["on"] = data.pop(True)
    return data


def steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in workflow["jobs"].items() for step in spec["steps"]]


def test_actionlint_passes_with_shellcheck_on_run_blocks() -> None:
    shellcheck = shutil.which("shellcheck")
    assert ACTIONLINT.is_file(), "run scripts/setup/actionlint.sh (scripts/test.sh does)"
    assert shellcheck, "shellcheck is installed by scripts/setup/tools.sh"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run(
        [str(ACTIONLINT), f"-shellcheck={shellcheck}", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_report_a_broken_run_block(tmp_path: Path) -> None:
    """The lint is real: an unquoted expansion in a run: block is shellcheck's finding."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $HOME/$1\n"
    )
    shellcheck = shutil.which("shellcheck")
    result = subprocess.run(
        [str(ACTIONLINT), f"-shellcheck={shellcheck}", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "SC2086" in result.stdout


def test_previews_run_on_pull_requests_and_main_after_the_tests() -> None:
    flow = load("preview.yml")
    assert set(flow["on"]) == {"pull_request", "push"}
    assert flow["on"]["push"] == {"branches": ["main"]}
    test_steps = [s.get("run", "") for s in flow["jobs"]["test"]["steps"]]
    assert any(run.endswith("bash scripts/test.sh") for run in test_steps)
    preview = flow["jobs"]["preview"]
    assert set(preview["needs"]) == {"test", "stacks"}
    assert preview["strategy"]["matrix"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    assert preview["permissions"]["pull-requests"] == "write"
    runs = [s for s in preview["steps"] if "run" in s]
    assert [s["run"] for s in runs] == ['bash scripts/preview.sh --prepare "$STACK"']
    action = [s for s in preview["steps"] if s.get("with", {}).get("command") == "preview"]
    assert len(action) == 1
    inputs = action[0]["with"]
    assert action[0]["uses"] == PULUMI_ACTION
    assert inputs["diff"] is True and inputs["policyPacks"] == "policy"
    assert inputs["comment-on-pr"] == "${{ github.event_name == 'pull_request' }}"
    assert inputs["stack-name"] == "${{ matrix.stack }}"


def test_up_runs_only_by_hand_per_stack_behind_its_environment() -> None:
    flow = load("up.yml")
    assert set(flow["on"]) == {"workflow_dispatch"}
    assert flow["on"]["workflow_dispatch"]["inputs"]["stack"]["required"] is True
    up = flow["jobs"]["up"]
    assert up["environment"] == "${{ needs.environment.outputs.name }}"
    runs = [s["run"] for s in up["steps"] if "run" in s]
    assert runs == [
        'bash scripts/preview.sh --prepare "$STACK"',
        'bash scripts/up.sh "$STACK" --yes --diff --policy-pack policy --suppress-outputs',
    ]
    # Nothing else in the repository runs `pulumi up`.
    other = (WORKFLOWS / "preview.yml").read_text()
    assert "command: up" not in other and "up.sh" not in other


@pytest.mark.parametrize("name", ["preview.yml", "up.yml"])
def test_steps_run_project_scripts_and_take_secrets_only_from_env(name: str) -> None:
    flow = load(name)
    for job, step in steps(flow):
        uses = step.get("uses")
        if uses:
            assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+(\.\d+\.\d+)?", uses), (job, uses)
            if uses.startswith("pulumi/"):
                assert uses == PULUMI_ACTION, (job, uses)
                assert step["with"]["pulumi-version-file"] == ".pulumi-version"
        run = step.get("run")
        if run is not None:
            assert "\n" not in run.strip(), (job, "one command per step")
            assert re.search(r"(bash scripts/|\.venv/bin/python scripts/)", run), (job, run)
            assert "secrets." not in run and "set -x" not in run, (job, run)


def test_every_secret_ci_stacks_names_reaches_the_steps() -> None:
    listed = yaml.safe_load((ROOT / "ci" / "stacks.yaml").read_text())
    names = {n for b in listed["backends"].values() for n in b}
    names |= {n for entry in listed["stacks"] for n in entry.get("secrets", [])}
    preview = load("preview.yml")["jobs"]
    up = load("up.yml")["jobs"]["up"]
    for env in (preview["preview"]["env"], preview["stacks"]["steps"][-1]["env"], up["env"]):
        assert {k for k in env if k in names} == names
        for key, value in env.items():
            if key in names:
                assert value == "${{ secrets." + key + " }}"
