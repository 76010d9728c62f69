"""Every shell script of the project is shellcheck-clean (shellcheck is installed by setup)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shell_scripts() -> list[Path]:
    found = [*sorted(ROOT.glob("scripts/**/*.sh")), *sorted(ROOT.glob("docker/**/*.sh"))]
    found.append(ROOT / ".ci" / "run")
    return [p for p in found if ".venv" not in p.parts]


def test_there_are_scripts_to_check() -> None:
    names = {p.name for p in shell_scripts()}
    assert {"test.sh", "up.sh", "python.sh", "run"} <= names


def test_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: scripts/test.sh installs it"
    result = subprocess.run(
        [shellcheck, "-x", "-S", "style", *map(str, shell_scripts())],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in readme and "scripts/up.sh" in readme
    assert [ln for ln in ci.splitlines() if ln and not ln.startswith(("#", "set ", "cd "))] == [
        "bash scripts/test.sh"
    ]


def test_validators_catch_what_they_should(tmp_path: Path) -> None:
    import pytest

    from tests.validators import assert_cloud_config_valid, assert_shell_snippet_clean

    assert_cloud_config_valid("#cloud-config\npackages: [nginx]\n")
    with pytest.raises(AssertionError, match="not of type 'array'"):
        assert_cloud_config_valid("#cloud-config\npackages: nginx\n")
    assert_shell_snippet_clean('echo "$HOME"\n')
    with pytest.raises(AssertionError, match="SC2086"):
        assert_shell_snippet_clean("x=$1\necho $x\n")


def test_guest_image_is_keyed_by_its_recipe(tmp_path: Path) -> None:
    """The cloud image's path holds the hash of its script: a changed recipe is a new image."""
    import hashlib

    script = ROOT / "scripts/setup/guest-image.sh"
    env = {"PATH": "/usr/bin:/bin", "CLOUDLABS_GUEST_IMAGE_DIR": str(tmp_path / "images")}

    def path_of(copy: Path) -> str:
        out = subprocess.run(
            ["bash", str(copy), "--path"], capture_output=True, text=True, env=env, check=True
        )
        return out.stdout.splitlines()[-1]

    digest = hashlib.sha256(script.read_bytes()).hexdigest()[:12]
    assert path_of(script) == f"{tmp_path}/images/debian-bookworm-cloud-{digest}.qcow2"
    changed = tmp_path / "setup" / "guest-image.sh"
    changed.parent.mkdir()
    shutil.copy(ROOT / "scripts/setup/lib.sh", changed.parent / "lib.sh")
    changed.write_text(script.read_text() + "# another recipe\n")
    assert path_of(changed) != path_of(script)
    assert not (tmp_path / "images").exists(), "--path must not build anything"
