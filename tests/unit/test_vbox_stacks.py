"""vbox-nat and vbox-cluster from their shipped stack files, checked against docs/labs.md, and bad
config rejected before any resource exists."""

from __future__ import annotations

import pytest
import yaml

from components.virtualbox import mac_address
from stacks.shared.errors import ConfigError
from tests.harness import (
    Change,
    Resource,
    StackRun,
    change,
    changed,
    load_stack_file,
    rejected,
    revealed,
    run_program,
    run_stack_file,
    script_run,
)

K = "cloud-labs:"
CMD = "command:local:Command"


def env(run: StackRun, name: str) -> dict[str, str]:
    res: Resource = run.one(CMD, name)
    return res.inputs["environment"]


@pytest.fixture(scope="module")
def nat() -> StackRun:
    return run_stack_file("vbox-nat")


@pytest.fixture(scope="module")
def cluster() -> StackRun:
    return run_stack_file("vbox-cluster")


@pytest.mark.parametrize("stack", ["vbox-nat", "vbox-cluster"])
def test_the_host_is_checked_before_anything_is_made_there(stack: str) -> None:
    run = run_stack_file(stack)
    check = run.one(CMD, "vbox-host-check")
    assert check.inputs.get("delete") is None, "a check has nothing to delete"
    assert script_run(check.inputs["create"]).script == "scripts/virtualbox/host.sh"
    for res in run.of_type(CMD):
        if res is not check:
            assert run.reaches(res, check), f"{res.urn} does not wait for the host check"


def test_guests_are_ready_when_cloud_init_has_finished(nat: StackRun) -> None:
    for role, vm in (("vm", "lab-vm"), ("clone", "lab-vm-clone")):
        wait = nat.one(CMD, f"{role}-ssh")
        got = wait.inputs["environment"]
        assert (got["SSH_USER"], got["SSH_KEY"]) == (
            "ubuntu",
            "~/cloudlabs-vbox/vbox-nat/ready-key",
        )
        assert got["CONSOLE_LOG"] == f"~/cloudlabs-vbox/vbox-nat/vms/{vm}/console.log"
        # A new seed boots cloud-init again: wait again.
        seed = env(nat, f"{role}-seed-iso")["SEED_PATH"]
        assert wait.inputs["triggers"][1] == seed, wait
        assert nat.depends_on(wait, nat.one(CMD, f"{role}-vm"))


def test_host_only_adapters_take_the_kind_the_host_check_found() -> None:
    config = changed(
        load_stack_file("vbox-cluster"),
        change("network", "mode", value="hostonly"),
        change("network", "hostOnlyAdapter", value="vboxnet0"),
    )
    run = run_program(config, stack="vbox-cluster")
    # Under the mocks the check prints no report: a host-only interface, as on Linux.
    for name in ["master", *NODES]:
        vm = env(run, f"{name}-vm")
        assert (vm["VM_NIC2"], vm["VM_NIC2_NETWORK"]) == ("hostonly", "vboxnet0"), name


def test_nat_vm_sizes_adapter_and_forward(nat: StackRun) -> None:
    vm = env(nat, "vm-vm")
    assert (vm["VM_NAME"], vm["VM_CPUS"], vm["VM_MEMORY_MB"]) == ("lab-vm", "1", "1024")
    assert vm["VM_NIC2"] == "none" and vm["VM_NIC1_MAC"] == mac_address("lab-vm/nic1")
    assert vm["VM_FORWARDS"] == "ssh,tcp,127.0.0.1,2222,,22"
    assert vm["VM_START"] == "yes" and vm["VM_OSTYPE"] == "Ubuntu_64"
    assert env(nat, "vm-ssh")["SSH_PORT"] == "2222"


def test_nat_second_vm_runs_on_a_clone_of_the_first_disk(nat: StackRun) -> None:
    first, clone = env(nat, "vm-disk-medium"), env(nat, "clone-disk-medium")
    assert clone["DISK_SOURCE"] == first["DISK_PATH"] and clone["DISK_SOURCE_KIND"] == "disk"
    assert first["DISK_SOURCE_KIND"] == "image" and first["DISK_SIZE_MB"] == "10240"
    assert env(nat, "clone-vm")["VM_DISK"] == clone["DISK_PATH"]
    assert env(nat, "clone-vm")["VM_FORWARDS"] == "ssh,tcp,127.0.0.1,2223,,22"
    clone_disk = nat.one(CMD, "clone-disk-medium")
    assert nat.depends_on(clone_disk, nat.one(CMD, "vm-disk-medium")), clone_disk
    assert nat.depends_on(nat.one(CMD, "vm-vm"), clone_disk), "cloned before the first boot"


def test_nat_cloud_init_logs_in_with_the_key(nat: StackRun) -> None:
    key = load_stack_file("vbox-nat")[K + "sshPublicKey"]
    # The ready key, made on the VirtualBox host, logs in too: to ask cloud-init if it is done.
    ready = nat.one(CMD, "ready-key-file")
    assert ready.inputs["environment"]["KEY_PATH"] == "~/cloudlabs-vbox/vbox-nat/ready-key"
    for name, host in (("vm-seed-iso", "lab-vm"), ("clone-seed-iso", "lab-vm-clone")):
        seed = env(nat, name)
        doc = yaml.safe_load(seed["SEED_USER_DATA"])
        assert doc["hostname"] == host
        assert doc["users"][0]["name"] == "ubuntu"
        assert doc["users"][0]["ssh_authorized_keys"] == [key, ready.state["stdout"]]
        assert doc["ssh_pwauth"] is False
        assert yaml.safe_load(seed["SEED_META_DATA"])["local-hostname"] == host
        assert seed["SEED_PATH"].endswith(".iso") and host in seed["SEED_PATH"]


def test_nat_outputs(nat: StackRun) -> None:
    assert nat.outputs["sshCommands"] == {
        "lab-vm": "ssh -p 2222 ubuntu@127.0.0.1",
        "lab-vm-clone": "ssh -p 2223 ubuntu@127.0.0.1",
    }


def test_commands_replace_only_on_identity_changes(nat: StackRun) -> None:
    vm = nat.one(CMD, "vm-vm")
    assert vm.inputs["triggers"] == ["lab-vm", "~/cloudlabs-vbox/vbox-nat/vms", "Ubuntu_64", "bios"]
    assert vm.inputs["update"] == vm.inputs["create"], "memory and forwards update in place"
    assert "VM_MEMORY_MB" not in str(vm.inputs["triggers"])
    seed = nat.one(CMD, "vm-seed-iso")
    assert seed.inputs["triggers"] == [env(nat, "vm-seed-iso")["SEED_PATH"]]
    for res in nat.of_type(CMD):
        assert script_run(res.inputs["create"]).script.startswith("scripts/virtualbox/"), res
        assert res.inputs["environment"]["VBOXMANAGE"] == "VBoxManage", res


def test_memory_change_keeps_the_vm_and_changes_its_environment() -> None:
    config = load_stack_file("vbox-nat")
    config[K + "vm"] = {**config[K + "vm"], "memoryMb": 2048}
    run = run_program(config, stack="vbox-nat")
    assert env(run, "vm-vm")["VM_MEMORY_MB"] == "2048"
    assert run.one(CMD, "vm-vm").inputs["triggers"][0] == "lab-vm"


HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYK9Jv4TR4Dl95nNJ+uqp/wuzy8aHCte3sF1XpqnC6M"


def test_remote_host_runs_the_scripts_over_ssh() -> None:
    config = load_stack_file("vbox-nat")
    config[K + "remoteHost"] = {
        "host": "vbox.example.org",
        "user": "lab",
        "privateKey": "K",
        "hostKey": HOST_KEY,
    }
    run = run_program(config, stack="vbox-nat")
    local = {r.name: r.inputs["environment"] for r in run_stack_file("vbox-nat").of_type(CMD)}
    assert run.of_type(CMD) == []
    commands = run.of_type("command:remote:Command")
    assert len(commands) == 10
    for res in commands:
        # The private key makes the whole connection a secret.
        connection, secret = revealed(res.inputs["connection"])
        assert secret, res
        assert connection["host"] == "vbox.example.org" and connection["user"] == "lab"
        assert connection["privateKey"] == "K" and connection["hostKey"] == HOST_KEY
        # The parameters are exported inside the command, exactly as the local one gets them
        # (but for what holds the ready key, the seeds: the mocks print no key for a remote
        # command).
        assert "environment" not in res.inputs, res
        exports = script_run(res.inputs["create"]).exports
        assert set(exports) == set(local[res.name]), res
        keyed = {"SEED_PATH", "SEED_USER_DATA", "SEED_META_DATA", "VM_SEED"}
        for name, value in exports.items():
            assert name in keyed or value == local[res.name][name], (res, name)
    assert (
        run.outputs["sshCommands"]["lab-vm"]
        == "ssh -J lab@vbox.example.org -p 2222 ubuntu@127.0.0.1"
    )


def test_remote_cluster_outputs_reach_the_forwards_through_the_host() -> None:
    config = load_stack_file("vbox-cluster")
    remote = {"host": "vbox.example.org", "user": "lab", "port": 2200, "hostKey": HOST_KEY}
    config[K + "remoteHost"] = remote
    out = run_program(config, stack="vbox-cluster").outputs
    assert out["curl"] == "ssh -p 2200 lab@vbox.example.org 'curl -X POST http://localhost:8080'"
    assert out["sshCommands"]["node01"] == (
        "ssh -J lab@vbox.example.org:2200 -p 4022 ubuntu@127.0.0.1"
    )


# --- vbox-cluster -----------------------------------------------------------------------

NODES = ["node01", "node02", "node03"]


def test_cluster_vms_sizes_and_names(cluster: StackRun) -> None:
    sizes = {"template": ("1", "1024"), "master": ("1", "2048")} | {n: ("1", "1024") for n in NODES}
    vms = {env(cluster, f"{n}-vm")["VM_NAME"]: env(cluster, f"{n}-vm") for n in sizes}
    assert set(vms) == set(sizes)
    for name, (cpus, memory) in sizes.items():
        assert (vms[name]["VM_CPUS"], vms[name]["VM_MEMORY_MB"]) == (cpus, memory), name
    disks = {n: env(cluster, f"{n}-disk-medium")["DISK_SIZE_MB"] for n in sizes}
    assert disks == {"template": "25600", "master": "25600"} | {n: "10240" for n in NODES}
    base = env(cluster, "base-disk-medium")
    for name in sizes:
        assert env(cluster, f"{name}-disk-medium")["DISK_SOURCE"] == base["DISK_PATH"], name
    assert vms["template"]["VM_START"] == "no" and vms["template"]["VM_FORWARDS"] == ""


def test_cluster_adapters_and_forwards(cluster: StackRun) -> None:
    master = env(cluster, "master-vm")
    assert master["VM_FORWARDS"].splitlines() == [
        "ssh,tcp,127.0.0.1,3022,,22",
        "http,tcp,127.0.0.1,8080,,80",
    ]
    for i, name in enumerate(NODES):
        assert env(cluster, f"{name}-vm")["VM_FORWARDS"] == f"ssh,tcp,127.0.0.1,{4022 + i},,22"
    for name in ["master", *NODES]:
        vm = env(cluster, f"{name}-vm")
        assert (vm["VM_NIC2"], vm["VM_NIC2_NETWORK"]) == ("intnet", "CloudBasicNet"), name
        assert vm["VM_NIC2_MAC"] == mac_address(f"{name}/nic2")
        assert vm["VM_START"] == "yes"
    macs = [
        env(cluster, f"{n}-vm")[k]
        for n in ["master", *NODES]
        for k in ("VM_NIC1_MAC", "VM_NIC2_MAC")
    ]
    assert len(set(macs)) == len(macs)


def test_cluster_nodes_start_after_master(cluster: StackRun) -> None:
    ready = cluster.one(CMD, "master-ssh")
    for name in NODES:
        assert cluster.depends_on(cluster.one(CMD, f"{name}-vm"), ready), name


def test_cluster_guest_configuration(cluster: StackRun) -> None:
    master = yaml.safe_load(env(cluster, "master-seed-iso")["SEED_USER_DATA"])
    files = {f["path"]: f["content"] for f in master["write_files"]}
    assert {"dnsmasq", "nfs-kernel-server", "nginx"} <= set(master["packages"])
    assert "192.168.56.1 master" in files["/etc/hosts"]
    assert (
        "dhcp-range=192.168.56.2,192.168.56.199,255.255.255.0,12h"
        in files["/etc/dnsmasq.d/cloudlabs.conf"]
    )
    lb = files["/etc/nginx/conf.d/load-balancer.conf"]
    assert [f"192.168.56.{i}:5001" in lb for i in (2, 3, 4)] == [True] * 3
    assert files["/etc/exports.d/cloudlabs.exports"] == (
        "/shared 192.168.56.0/24(rw,sync,no_root_squash,no_subtree_check)\n"
    )
    assert any("/shared/data /shared/home" in c for c in master["runcmd"])
    netplan = yaml.safe_load(env(cluster, "master-seed-iso")["SEED_NETWORK_CONFIG"])
    assert netplan["network"]["ethernets"]["lab"]["addresses"] == ["192.168.56.1/24"]
    for name in NODES:
        seed = env(cluster, f"{name}-seed-iso")
        doc = yaml.safe_load(seed["SEED_USER_DATA"])
        node_files = {f["path"]: f["content"] for f in doc["write_files"]}
        assert (
            node_files["/etc/auto.cloudlabs"]
            == "/shared -fstype=nfs,rw,hard 192.168.56.1:/shared\n"
        )
        assert (
            "COUNTER_REDIS_HOST=192.168.56.2" in node_files["/etc/systemd/system/counter.service"]
        )
        assert ("redis-server" in doc["packages"]) == (name == "node01"), name
        lab = yaml.safe_load(seed["SEED_NETWORK_CONFIG"])["network"]["ethernets"]["lab"]
        assert lab["dhcp4"] is True and lab["nameservers"]["addresses"] == ["192.168.56.1"]
    redis = yaml.safe_load(env(cluster, "node01-seed-iso")["SEED_USER_DATA"])
    redis_conf = {f["path"]: f["content"] for f in redis["write_files"]}[
        "/etc/redis/cloudlabs.conf"
    ]
    assert "bind 192.168.56.2 127.0.0.1\n" in redis_conf


def test_cluster_outputs(cluster: StackRun) -> None:
    out = cluster.outputs
    assert out["curl"] == "curl -X POST http://localhost:8080"
    assert out["sshCommands"] == {
        "master": "ssh -p 3022 ubuntu@127.0.0.1",
        "node01": "ssh -p 4022 ubuntu@127.0.0.1",
        "node02": "ssh -p 4023 ubuntu@127.0.0.1",
        "node03": "ssh -p 4024 ubuntu@127.0.0.1",
    }
    assert out["labAddresses"]["master"] == "192.168.56.1"


@pytest.mark.parametrize("count", [1, 5])
def test_cluster_scales_with_node_count(count: int) -> None:
    config = load_stack_file("vbox-cluster")
    config[K + "nodes"] = {**config[K + "nodes"], "count": count}
    run = run_program(config, stack="vbox-cluster")
    names = [f"node{i:02d}" for i in range(1, count + 1)]
    vms = sorted(env(run, r.name)["VM_NAME"] for r in run.of_type(CMD) if r.name.endswith("-vm"))
    assert vms == sorted(["template", "master", *names])
    assert list(run.outputs["sshCommands"]) == ["master", *names]
    assert run.outputs["sshCommands"][names[-1]].startswith(f"ssh -p {4022 + count - 1} ")
    lb = yaml.safe_load(env(run, "master-seed-iso")["SEED_USER_DATA"])["write_files"]
    conf = next(f["content"] for f in lb if f["path"].endswith("load-balancer.conf"))
    assert conf.count(":5001 ") == count


def test_cluster_without_redis_counts_per_process() -> None:
    config = load_stack_file("vbox-cluster")
    config[K + "redis"] = {"enabled": False}
    run = run_program(config, stack="vbox-cluster")
    unit = yaml.safe_load(env(run, "node01-seed-iso")["SEED_USER_DATA"])["write_files"]
    assert "REDIS" not in next(f["content"] for f in unit if f["path"].endswith("counter.service"))
    assert run.outputs["counterStore"] == "in-process"


# --- bad config -------------------------------------------------------------------------


def rejected_stack(stack: str, *changes: Change) -> ConfigError:
    return rejected(changed(load_stack_file(stack), *changes), stack, stack=stack)


@pytest.mark.parametrize(
    ("stack", "changes", "where", "words"),
    [
        (
            "vbox-nat",
            [change("clone", "sshPort", value=2222)],
            "clone.sshPort",
            "already forwarded by vm.sshPort",
        ),
        ("vbox-nat", [change("clone", "name", value="lab-vm")], "clone.name", "name of its own"),
        ("vbox-nat", [change("workDir", value="relative/dir")], "workDir", "absolute path"),
        ("vbox-nat", [change("image", "url", value="ftp://x")], "image.url", "http"),
        (
            "vbox-nat",
            [change("vm", "memoryMb", value=16)],
            "vm.memoryMb",
            "greater than or equal to 256",
        ),
        # The image's own size (Ubuntu's noble VMDK: 10 GiB) is the smallest disk there can be.
        (
            "vbox-nat",
            [change("vm", "diskGb", value=8)],
            "vm.diskGb",
            "8 GB (8192 MB) is less than the image's virtual size, 10240 MB (image.virtualSizeMb)",
        ),
        (
            "vbox-cluster",
            [change("image", "virtualSizeMb", value=12288)],
            "nodes.diskGb",
            "10 GB (10240 MB) is less than the image's virtual size, 12288 MB",
        ),
        (
            "vbox-cluster",
            [change("master", "httpPort", value=3022)],
            "master.httpPort",
            "already forwarded",
        ),
        (
            "vbox-cluster",
            [change("master", "sshPort", value=4023)],
            "nodes.sshPortBase",
            "4022..4024",
        ),
        (
            "vbox-cluster",
            [change("nodes", "count", value=0)],
            "nodes.count",
            "greater than or equal to 1",
        ),
        (
            "vbox-cluster",
            [
                change("nodes", "count", value=10),
                change("network", "dhcpRange", "end", value="192.168.56.10"),
            ],
            "nodes.count",
            "holds 9 addresses",
        ),
        (
            "vbox-cluster",
            [change("nodes", "count", value=100)],
            "nodes.count",
            "less than or equal to 99",
        ),
        (
            "vbox-cluster",
            [
                change(
                    "network", "dhcpRange", value={"start": "192.168.56.1", "end": "192.168.56.50"}
                )
            ],
            "network.dhcpRange",
            "contains master's address 192.168.56.1",
        ),
        (
            "vbox-cluster",
            [change("network", "masterIp", value="192.168.57.1")],
            "network.masterIp",
            "host address in 192.168.56.0/24",
        ),
        (
            "vbox-cluster",
            [change("network", "mode", value="hostonly")],
            "network.hostOnlyAdapter",
            "needs",
        ),
        (
            "vbox-cluster",
            [change("redis", "node", value="node07")],
            "redis.node",
            "expected one of",
        ),
        ("vbox-cluster", [change("nodes", "colour", value="red")], "nodes.colour", "unknown key"),
    ],
)
def test_bad_config_is_rejected(stack: str, changes: list[Change], where: str, words: str) -> None:
    error = rejected_stack(stack, *changes)
    found = [p for p in error.problems if p.location == where]
    assert found, f"no problem reported at {where}: {error}"
    assert any(words in p.render() for p in found), str(error)


def test_every_problem_is_reported_at_once() -> None:
    error = rejected_stack(
        "vbox-cluster",
        change("master", "httpPort", value=3022),
        change("nodes", "count", value=0),
        change("network", "dhcpRange", value={"start": "192.168.56.1", "end": "192.168.56.9"}),
    )
    where = {p.location for p in error.problems}
    assert where >= {"master.httpPort", "nodes.count", "network.dhcpRange"}, str(error)


def test_user_names_never_take_the_labs_own_names() -> None:
    # Resources are named by role: a template called `base-disk` is no second base disk...
    config = load_stack_file("vbox-cluster")
    config[K + "template"] = {**config[K + "template"], "name": "base-disk"}
    run = run_program(config, stack="vbox-cluster")
    assert env(run, "base-disk-medium")["DISK_PATH"].endswith("/disks/base.vdi")
    assert env(run, "template-disk-medium")["DISK_PATH"].endswith("/disks/base-disk.vdi")
    assert env(run, "template-vm")["VM_NAME"] == "base-disk"
    # ... and one called `base` would write over the base disk's file: refused.
    error = rejected_stack("vbox-cluster", change("template", "name", value="base"))
    assert [p.location for p in error.problems] == ["template.name"]
    assert "base.vdi is the base disk's file" in str(error)


def test_renamed_resources_keep_their_state_through_an_alias() -> None:
    config = load_stack_file("vbox-cluster")
    config[K + "master"] = {**config[K + "master"], "name": "boss"}
    config[K + "nodes"] = {**config[K + "nodes"], "namePrefix": "worker"}
    config[K + "redis"] = {**config[K + "redis"], "node": "worker01"}
    run = run_program(config, stack="vbox-cluster")
    aliases = {
        r.name: [a["spec"]["name"] for a in r.options.get("aliases", [])]
        for r in run.resources
        if r.type.startswith("cloudlabs:virtualbox:")
    }
    assert aliases["master"] == ["boss"] and aliases["master-disk"] == ["boss-disk"]
    assert aliases["node02"] == ["worker02"] and aliases["node02-seed"] == ["worker02-seed"]
    assert aliases["template"] == [] and aliases["base-disk"] == []
    assert env(run, "master-vm")["VM_NAME"] == "boss"
    # What the engine matches an aliased parent's children by: their names start with it.
    for res in run.of_type(CMD):
        assert res.name.startswith(res.parent.rsplit("::", 1)[-1] + "-"), res
    # The shipped names are the roles themselves: nothing to alias.
    shipped = run_stack_file("vbox-cluster")
    assert not any(r.options.get("aliases") for r in shipped.resources)
