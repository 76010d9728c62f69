"""OpenStack stacks check that credentials are configured before they ask the project anything,
and a failed lookup of the external network is one message naming ``externalNetwork`` and the
auth URL tried, never a traceback.

Under the mocks the environment, the provider config and the clouds.yaml files are set per
test; the mocks fail the lookup as a provider that cannot reach its cloud would. The last tests
run the program in a child process with a real environment of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stacks.shared.errors import OpenStackAccessError
from stacks.shared.openstack_access import SYSTEM_CLOUDS, Credentials, find_credentials
from tests.harness import (
    MOCK_AUTH_URL,
    ROOT,
    StackRun,
    load_stack_file,
    run_program,
)

GET_NETWORK = "openstack:networking/getNetwork:getNetwork"
STACKS = ("openstack-vm", "openstack-calculator", "openstack-naas", "openstack-k8s")
NO_CREDENTIALS = {"OS_AUTH_URL": None, "OS_CLOUD": None, "OS_CLIENT_CONFIG_FILE": None}
NOT_FOUND = "Your query returned no results. Please change your search criteria and try again."
CLOUDS = """\
clouds:
  teaching:
    auth:
      auth_url: https://keystone.teaching.example:5000/v3
      username: alice
      project_name: lab
    region_name: RegionOne
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home directory (no ~/.config/openstack/clouds.yaml)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    assert not SYSTEM_CLOUDS.exists(), f"{SYSTEM_CLOUDS} on this machine changes these tests"
    assert not (ROOT / "clouds.yaml").exists()
    return path


def attempt(
    stack: str, environ: dict[str, str | None], config: dict[str, str] | None = None
) -> tuple[OpenStackAccessError, StackRun]:
    run = StackRun(failing_calls={GET_NETWORK: NOT_FOUND})
    with pytest.raises(OpenStackAccessError) as caught:
        run_program(
            {**load_stack_file(stack), **(config or {})}, stack=stack, run=run, environ=environ
        )
    assert run.resources == [], "resources were registered before the project was reached"
    return caught.value, run


@pytest.mark.parametrize("stack", STACKS)
def test_no_credentials_stop_before_any_invoke_naming_what_to_set(stack: str, home: Path) -> None:
    error, run = attempt(stack, NO_CREDENTIALS)
    assert run.calls == [], "the project was asked before credentials were checked"
    text = str(error)
    assert text.startswith("OpenStack credentials are not configured")
    for what in ("OS_AUTH_URL", "OS_CLOUD", "clouds.yaml", "openstack:authUrl", "source"):
        assert what in text, f"{what!r} not named in: {text}"


@pytest.mark.parametrize("stack", STACKS)
def test_a_failed_lookup_names_the_key_the_network_and_the_auth_url(stack: str) -> None:
    error, run = attempt(stack, {})
    assert [token for token, _ in run.calls] == [GET_NETWORK]
    name = load_stack_file(stack)["cloud-labs:externalNetwork"]
    text = str(error)
    assert text.startswith(f"externalNetwork: the external network {name!r} could not be looked")
    assert f"{MOCK_AUTH_URL} (from OS_AUTH_URL)" in text
    assert NOT_FOUND in text, "the provider's own reason is lost"
    assert "Traceback" not in text


def test_the_provider_config_auth_url_is_the_one_named(home: Path) -> None:
    url = "https://keystone.cloud.example:5000/v3"
    error, _ = attempt("openstack-vm", NO_CREDENTIALS, {"openstack:authUrl": url})
    assert f"{url} (from openstack:authUrl)" in str(error)


def test_a_cloud_of_clouds_yaml_counts_and_its_auth_url_is_named(home: Path) -> None:
    clouds = home / ".config/openstack/clouds.yaml"
    clouds.parent.mkdir(parents=True)
    clouds.write_text(CLOUDS)
    error, _ = attempt("openstack-vm", {**NO_CREDENTIALS, "OS_CLOUD": "teaching"})
    assert f"https://keystone.teaching.example:5000/v3 (from cloud 'teaching' in {clouds})" in str(
        error
    )
    # The lookup answering, the stack is built.
    run = run_program(
        load_stack_file("openstack-vm"),
        stack="openstack-vm",
        environ={**NO_CREDENTIALS, "OS_CLOUD": "teaching"},
    )
    router = run.one("openstack:networking/router:Router")
    assert router.inputs["externalNetworkId"] == "public-network-id"


def test_a_cloud_that_no_clouds_yaml_defines_is_named(home: Path) -> None:
    clouds = home / ".config/openstack/clouds.yaml"
    clouds.parent.mkdir(parents=True)
    clouds.write_text(CLOUDS)
    error, run = attempt("openstack-vm", {**NO_CREDENTIALS, "OS_CLOUD": "research"})
    assert run.calls == []
    assert str(error) == (
        f"OS_CLOUD names the cloud 'research', which {clouds} does not define (its clouds: "
        "teaching)"
    )
    error, _ = attempt("openstack-vm", NO_CREDENTIALS, {"openstack:cloud": "missing"})
    assert "openstack:cloud names the cloud 'missing'" in str(error)


def test_a_named_cloud_without_any_clouds_yaml_says_where_it_looked(home: Path) -> None:
    error, _ = attempt("openstack-vm", {**NO_CREDENTIALS, "OS_CLOUD": "teaching"})
    text = str(error)
    assert "there is no clouds.yaml" in text
    assert str(home / ".config/openstack/clouds.yaml") in text and str(SYSTEM_CLOUDS) in text


def test_the_providers_order_config_then_environment_then_clouds_yaml(tmp_path: Path) -> None:
    named = tmp_path / "elsewhere.yaml"
    named.write_text(CLOUDS)
    env = {"OS_AUTH_URL": "https://env.example/v3", "OS_CLOUD": "teaching"}
    both = find_credentials(env, {"authUrl": "https://config.example/v3"}, tmp_path, tmp_path)
    assert both == Credentials("https://config.example/v3", "openstack:authUrl")
    assert find_credentials(env, {}, tmp_path, tmp_path).source == "OS_AUTH_URL"
    by_file = find_credentials(
        {"OS_CLOUD": "teaching", "OS_CLIENT_CONFIG_FILE": str(named)}, {}, tmp_path, tmp_path
    )
    assert by_file.auth_url == "https://keystone.teaching.example:5000/v3"
    (tmp_path / "clouds.yaml").write_text("clouds:\n  vendor:\n    profile: vexxhost\n")
    here = find_credentials({"OS_CLOUD": "vendor"}, {}, tmp_path, tmp_path / "nohome")
    assert here == Credentials("profile vexxhost", f"cloud 'vendor' in {tmp_path / 'clouds.yaml'}")
    with pytest.raises(OpenStackAccessError):
        find_credentials({}, {"authUrl": None, "cloud": None}, tmp_path, tmp_path)


# --- a child process with a real environment ----------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from stacks.shared.errors import CloudLabsError
    from tests import harness

    harness.ENVIRONMENT.clear()  # the process's own environment, as Pulumi would start it
    try:
        run = harness.run_stack_file("openstack-vm")
    except CloudLabsError as error:
        print(error)
        sys.exit(3)
    print("built", len(run.resources), [token for token, _ in run.calls])
    """
)


def child(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=120,
    )


def test_a_process_without_credentials_prints_one_message(tmp_path: Path) -> None:
    assert not SYSTEM_CLOUDS.exists()
    done = child({"HOME": str(tmp_path)})
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("OpenStack credentials are not configured; set one of:")
    assert "Traceback" not in done.stdout + done.stderr


def test_a_process_with_os_cloud_and_a_clouds_yaml_is_built(tmp_path: Path) -> None:
    clouds = tmp_path / ".config/openstack/clouds.yaml"
    clouds.parent.mkdir(parents=True)
    clouds.write_text(CLOUDS)
    done = child({"HOME": str(tmp_path), "OS_CLOUD": "teaching"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("built ") and GET_NETWORK in done.stdout


def test_a_process_with_an_rc_files_environment_is_built(tmp_path: Path) -> None:
    rc = {"OS_AUTH_URL": "https://keystone.rc.example:5000/v3", "OS_USERNAME": "alice"}
    done = child({"HOME": str(tmp_path), **rc})
    assert done.returncode == 0, done.stdout + done.stderr
