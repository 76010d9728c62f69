"""Every file the VirtualBox stacks put into a guest, checked by the tool that consumes it:
``cloud-init schema`` (user-data), ``netplan generate`` (network-config), ``dnsmasq --test``,
``nginx -t``, ``systemd-analyze verify`` (the counter unit), and the exports line against
exports(5)'s grammar."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.archive import COMMAND_PATH
from tests.harness import StackRun, run_program, run_stack_file
from tests.validators import assert_cloud_config_valid, assert_shell_snippet_clean, require

pytestmark = pytest.mark.integration


def seeds(run: StackRun) -> dict[str, dict[str, str]]:
    """Each seed ISO's environment (its documents), by resource name."""
    return {
        r.name: r.inputs["environment"]
        for r in run.of_type("command:local:Command")
        if r.name.endswith("-seed-iso")
    }


@pytest.fixture(scope="module")
def runs() -> dict[str, StackRun]:
    bench = run_program(
        {**_cluster_file(), "cloud-labs:benchmark": {"enabled": True}}, stack="vbox-cluster"
    )
    return {
        "vbox-nat": run_stack_file("vbox-nat"),
        "vbox-cluster": run_stack_file("vbox-cluster"),
        "vbox-cluster-benchmark": bench,
    }


def _cluster_file() -> dict[str, Any]:
    from tests.harness import load_stack_file

    return load_stack_file("vbox-cluster")


def files_of(env: dict[str, str]) -> dict[str, str]:
    doc = yaml.safe_load(env["SEED_USER_DATA"])
    return {f["path"]: f["content"] for f in doc.get("write_files", [])}


def test_every_user_data_passes_cloud_init_schema(runs: dict[str, StackRun]) -> None:
    checked = 0
    for stack, run in runs.items():
        for name, env in seeds(run).items():
            assert_cloud_config_valid(env["SEED_USER_DATA"], f"{stack}-{name}")
            meta = yaml.safe_load(env["SEED_META_DATA"])
            assert set(meta) == {"instance-id", "local-hostname"}, name
            for command in yaml.safe_load(env["SEED_USER_DATA"]).get("runcmd", []):
                assert_shell_snippet_clean(command, shell="sh")
            checked += 1
    assert checked == 2 + 5 + 5


def test_every_network_config_passes_netplan(runs: dict[str, StackRun], tmp_path: Path) -> None:
    netplan = require("netplan")
    checked = 0
    for name, env in [*seeds(runs["vbox-nat"]).items(), *seeds(runs["vbox-cluster"]).items()]:
        text = env["SEED_NETWORK_CONFIG"]
        if not text:
            assert name == "template-seed-iso", f"{name} has no network-config"
            continue
        root = tmp_path / name
        (root / "etc/netplan").mkdir(parents=True)
        conf = root / "etc/netplan/50-cloud-init.yaml"
        conf.write_text(text)
        conf.chmod(0o600)
        result = subprocess.run(
            [netplan, "generate", "--root-dir", str(root)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"
        networks = sorted(p.name for p in (root / "run/systemd/network").glob("*.network"))
        assert networks, f"{name}: netplan generated nothing"
        checked += 1
    assert checked == 2 + 4


def test_netplan_rejects_what_it_should(tmp_path: Path) -> None:
    (tmp_path / "etc/netplan").mkdir(parents=True)
    bad = tmp_path / "etc/netplan/50.yaml"
    bad.write_text("network:\n  version: 2\n  ethernets:\n    x:\n      dhcp4: maybe\n")
    bad.chmod(0o600)
    result = subprocess.run(
        [require("netplan"), "generate", "--root-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0


def test_dnsmasq_accepts_the_master_config(runs: dict[str, StackRun], tmp_path: Path) -> None:
    conf = files_of(seeds(runs["vbox-cluster"])["master-seed-iso"])["/etc/dnsmasq.d/cloudlabs.conf"]
    path = tmp_path / "dnsmasq.conf"
    path.write_text(conf)
    dnsmasq = require("dnsmasq")
    ok = subprocess.run([dnsmasq, "--test", "-C", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "syntax check OK" in ok.stderr, ok.stderr
    path.write_text(conf + "dhcp-range=not-an-address\n")
    bad = subprocess.run([dnsmasq, "--test", "-C", str(path)], capture_output=True, text=True)
    assert bad.returncode != 0


def test_nginx_accepts_the_load_balancer(runs: dict[str, StackRun], tmp_path: Path) -> None:
    files = files_of(seeds(runs["vbox-cluster"])["master-seed-iso"])
    (tmp_path / "lb.conf").write_text(files["/etc/nginx/conf.d/load-balancer.conf"])
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include {tmp_path}/lb.conf;\n}}\n"
    )
    result = subprocess.run(
        [require("nginx"), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_systemd_accepts_the_counter_unit(runs: dict[str, StackRun], tmp_path: Path) -> None:
    files = files_of(seeds(runs["vbox-cluster"])["node02-seed-iso"])
    unit = tmp_path / "counter.service"
    unit.write_text(files["/etc/systemd/system/counter.service"])
    result = subprocess.run(
        [require("systemd-analyze"), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "COUNTER_REDIS_HOST=192.168.56.2" in unit.read_text()


# exports(5): <path> <client>(<option>,...) with the options nfs-utils knows.
EXPORT_OPTIONS = {
    "rw", "ro", "sync", "async", "secure", "insecure", "wdelay", "no_wdelay", "hide",
    "nohide", "crossmnt", "subtree_check", "no_subtree_check", "root_squash",
    "no_root_squash", "all_squash", "no_all_squash", "insecure_locks", "secure_locks",
}  # fmt: skip


def test_exports_line_follows_exports_grammar(runs: dict[str, StackRun]) -> None:
    files = files_of(seeds(runs["vbox-cluster"])["master-seed-iso"])
    line = files["/etc/exports.d/cloudlabs.exports"]
    match = re.fullmatch(r"(/\S*) (\d+\.\d+\.\d+\.\d+/\d+)\(([a-z_,]+)\)\n", line)
    assert match, line
    assert match.group(1) == "/shared" and match.group(2) == "192.168.56.0/24"
    assert set(match.group(3).split(",")) <= EXPORT_OPTIONS
    assert match.group(3) == "rw,sync,no_root_squash,no_subtree_check"


def test_benchmark_command_is_shellcheck_clean(runs: dict[str, StackRun]) -> None:
    files = files_of(seeds(runs["vbox-cluster-benchmark"])["master-seed-iso"])
    assert_shell_snippet_clean(files[COMMAND_PATH], shell="sh")
    assert COMMAND_PATH not in files_of(seeds(runs["vbox-cluster"])["master-seed-iso"])


# An A query for argv[1] sent to 127.0.0.1:53 (retried while dnsmasq starts); prints the
# addresses of the answer, one a line.
DNS_QUERY = r"""
import socket, struct, sys, time
name = sys.argv[1]
query = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
query += struct.pack(">HH", 1, 1)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.5)
for _ in range(40):
    try:
        sock.sendto(query, ("127.0.0.1", 53))
        reply = sock.recv(4096)
        break
    except OSError:
        time.sleep(0.1)
count = struct.unpack(">H", reply[6:8])[0]
at = len(query)
for _ in range(count):
    while reply[at] and reply[at] < 0xC0:
        at += reply[at] + 1
    at += 2 if reply[at] >= 0xC0 else 1
    kind, _, _, size = struct.unpack(">HHIH", reply[at : at + 10])
    at += 10
    if kind == 1:
        print(socket.inet_ntoa(reply[at : at + size]))
    at += size
"""

DNSMASQ_SCRIPT = r"""
set -euo pipefail
mount --bind "$HOSTS" /etc/hosts
ip link set lo up
ip addr add 192.168.56.1/24 dev lo
"$DNSMASQ" --conf-file="$CONF" --keep-in-foreground --user=root --pid-file="$WORK/pid" \
    --dhcp-leasefile="$WORK/leases" &
trap 'kill $!' EXIT
for name in master node02; do
    printf '%s: ' "$name"
    "$PYTHON" -c "$QUERY" "$name" | sort | paste -sd ' '
done
"""


def test_dnsmasq_answers_the_lab_names_with_lab_addresses(
    runs: dict[str, StackRun], tmp_path: Path
) -> None:
    """master's dnsmasq, with master's /etc/hosts, in a network and mount namespace of its own:
    ``master`` is answered with its lab address only (never the loopback line of /etc/hosts)."""
    files = files_of(seeds(runs["vbox-cluster"])["master-seed-iso"])
    (tmp_path / "hosts").write_text(files["/etc/hosts"])
    conf = files["/etc/dnsmasq.d/cloudlabs.conf"]
    upstream = "resolv-file=/run/systemd/resolve/resolv.conf\n"
    assert upstream in conf
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.9\n")
    (tmp_path / "dnsmasq.conf").write_text(
        conf.replace(upstream, f"resolv-file={tmp_path}/resolv.conf\n")
    )
    assert "127.0.1.1 master" in files["/etc/hosts"]
    result = subprocess.run(
        [require("unshare"), "--net", "--mount", "bash", "-c", DNSMASQ_SCRIPT],
        env={
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTS": str(tmp_path / "hosts"),
            "CONF": str(tmp_path / "dnsmasq.conf"),
            "WORK": str(tmp_path),
            "DNSMASQ": require("dnsmasq"),
            "PYTHON": sys.executable,
            "QUERY": DNS_QUERY,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "master: 192.168.56.1\nnode02: 192.168.56.3\n", result.stdout
