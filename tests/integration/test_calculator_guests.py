"""The calculator labs with real guests: each VM boots with the user-data its stack gives Nova.

``openstack-calculator`` and ``openstack-naas`` run under the mocks with the test's SSH key and
the package mirror of ``scripts/setup/guest-mirror.sh`` as ``bootstrap.aptMirror`` (the only
config changed; the five services keep the stack's names, addresses and ports). Each
``openstack:compute/instance:Instance`` the stack declares becomes one guest booted from the
cloud image in the namespace ``cloudlabs-libvirt``, with an OpenStack config drive as Nova
makes one: the instance's ``userData`` byte for byte as ``openstack/latest/user_data``, its name,
metadata and key pair's public key in ``meta_data.json``. Its NIC has the MAC of its Neutron
port and gets the port's fixed address from the subnet's DHCP server, as on Neutron.

- openstack-calculator: the five VMs on one network standing in for the stack's subnet, the
  namespace at the subnet's gateway address (the router; the mirror answers there). From the
  namespace: the stack's ``curlCommand`` answers ``result = 22``; each service answers on its
  own port only; a stopped operator gives the front end's 502, a killed one is restarted by
  systemd; after a reboot of the front end and an operator every service is back. Then the
  lab's declared checks (``scripts/check.sh``) pass on the booted VMs.
- openstack-naas: the front end on a bridge for sub-network 1, the operators on one for
  sub-network 2; the namespace is the inter-subnet router (192.168.1.252 and 192.168.2.254) and
  nothing else: the access router's 192.168.1.254, the front end's default gateway, is absent,
  so only the host route can carry the front end's traffic to the operators. dnsmasq in the
  namespace is both subnets' DHCP server and pushes sub-network 1's host route as Neutron's
  does (option 121, classless static routes). The front end reaches the operators through it,
  with no route added by anyone; the calculation works end to end; the lab's declared checks
  pass.

For the checks, the booted VMs stand in for a deployed stack: the outputs are the stack's
own, with the floating IP replaced by the front end's fixed address (there is no floating
network here); ssh reaches the front end there and the operators through it (``-J``), as the
stack's ssh commands say, with the test's key. Nova's and Neutron's APIs themselves (security
groups, floating IPs, the routers' gateways) are checked only against the mocks.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calculator.config import OPERATOR_ROLES, ROLES
from components.calculator_bootstrap import FRONT_END, unit_name
from tests import guests
from tests.check_run import CheckRun, run_check_sh
from tests.guests import (
    NETNS,
    Guest,
    Lab,
    Mirror,
    SshKey,
    boot,
    config_drive,
    in_netns,
    journal,
    run,
    wait_for,
)
from tests.harness import StackRun, load_stack_file, run_program
from tests.validators import require

pytestmark = [pytest.mark.integration, pytest.mark.guest]

K = "cloud-labs:"
INSTANCE = "openstack:compute/instance:Instance"
KEYPAIR = "openstack:compute/keypair:Keypair"
MEMORY_MIB = 512
"""Enough for cloud-init and one calculator service (the image alone needs about 200 MiB)."""
DISK_GIB = 3


# --- what the stack tells Nova -------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """One instance as the stack declares it to Nova, and its Neutron port's fixed address."""

    role: str
    name: str
    user_data: str
    metadata: dict[str, str]
    address: str
    mac: str


def stack_config(stack: str, key: SshKey, served: Mirror, mirror_at: str) -> dict[str, Any]:
    """The shipped stack with the test's key and the package mirror (reached at
    ``mirror_at`` from every VM) as ``bootstrap.aptMirror``: nothing else changes."""
    config = load_stack_file(stack)
    config[K + "sshPublicKey"] = key.public
    config[K + "bootstrap"] = {
        **config[K + "bootstrap"],
        "aptMirror": {"url": served.url(mirror_at), "key": served.key_asc.read_text()},
    }
    return config


def servers(program: StackRun, config: Mapping[str, Any], mac_prefix: str) -> dict[str, Server]:
    """Each role's instance: its user-data and metadata as given to Nova, its port's fixed
    address, and a MAC of ours (``mac_prefix`` + the role's index)."""
    by_name = {vm["name"]: role for role, vm in config[K + "services"].items()}
    found: dict[str, Server] = {}
    for instance in program.of_type(INSTANCE):
        inputs = instance.inputs
        role = by_name[inputs["name"]]
        port = program.by_id(inputs["networks"][0]["port"])
        (fixed,) = port.inputs["fixedIps"]
        found[role] = Server(
            role=role,
            name=inputs["name"],
            user_data=inputs["userData"],
            metadata=dict(inputs.get("metadata") or {}),
            address=fixed["ipAddress"],
            mac=f"{mac_prefix}:{ROLES.index(role):02x}",
        )
    assert sorted(found) == sorted(ROLES), f"instances: {sorted(found)}"
    return found


def nova_drive(storage: Path, server: Server, program: StackRun) -> Path:
    """The config drive Nova would attach to ``server`` (``config_drive: true``)."""
    keypair = program.of_type(KEYPAIR)[0].inputs
    return config_drive(
        storage / f"{server.name}.iso",
        meta_data={
            "uuid": str(uuid.uuid4()),
            "name": server.name,
            "hostname": server.name,
            "meta": server.metadata,
            "public_keys": {keypair["name"]: keypair["publicKey"]},
        },
        user_data=server.user_data,
    )


# --- the booted lab ------------------------------------------------------------------------


@dataclass
class Booted:
    stack: str
    tag: str
    key: SshKey
    config: dict[str, Any]
    program: StackRun
    servers: dict[str, Server]
    guests: dict[str, Guest]
    storage: Path

    def port(self, role: str) -> int:
        vm = self.config[K + "services"][role]
        return int(vm["port"]) if "port" in vm else 50000 + ROLES.index(role)

    @property
    def front(self) -> Server:
        return self.servers[FRONT_END]

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs, the floating IP replaced by the front end's fixed address."""
        fip = str(self.program.outputs["floatingIp"])
        text = json.dumps(self.program.outputs).replace(fip, self.front.address)
        return dict(json.loads(text))


@contextmanager
def prepared(stack: str, mirror_at: str, mac_prefix: str) -> Iterator[tuple[Booted, Lab]]:
    """The stack run under the mocks for real guests (see :func:`stack_config`), and a
    :class:`Lab` for them; everything of the run is removed afterwards."""
    guests.require_libvirtd()
    guests.require_qemu()
    served = guests.mirror()
    guests.remove_leftovers()
    tag = guests.new_tag("gk")
    storage = guests.STORAGE / tag
    try:
        storage.mkdir(parents=True)
        key = SshKey.create(storage)
        config = stack_config(stack, key, served, mirror_at)
        program = run_program(config, stack="guests")
        found = servers(program, config, mac_prefix)
        booted = Booted(stack, tag, key, config, program, found, {}, storage)
        with Lab(tag, storage) as lab:
            yield booted, lab
    finally:
        guests.remove_tagged(tag, storage)


def boot_lab(lab: Lab, booted: Booted, nets: Mapping[str, str]) -> None:
    """Start one guest per role on ``nets[role]`` and wait until each is ready."""
    for role, server in booted.servers.items():
        booted.guests[role] = lab.guest(
            f"{booted.tag}-{server.name}",
            seed=nova_drive(booted.storage, server, booted.program),
            nics=[(nets[role], server.mac)],
            address=server.address,
            key=booted.key,
            memory_mib=MEMORY_MIB,
            disk_gib=DISK_GIB,
        )
    boot(list(booted.guests.values()))


# --- probes from the namespace -------------------------------------------------------------


def post(url: str, body: str) -> tuple[int, str]:
    """POST ``body`` to ``url`` from the namespace: (HTTP status, answer); status 0 when
    nothing answers."""
    done = run(
        ["ip", "netns", "exec", NETNS, "curl", "-sS", "--max-time", "20", "-o", "-",
         "-w", "\n%{http_code}", "-X", "POST", "--data-binary", body, url],
        check=False,
    )  # fmt: skip
    text, _, status = done.stdout.rpartition("\n")
    return int(status or 0), text.strip() or done.stderr.strip()


OPEN_PORTS = r"""
import json, socket, sys
hosts, ports = json.loads(sys.argv[1]), json.loads(sys.argv[2])
found = {}
for host in hosts:
    found[host] = []
    for port in ports:
        try:
            socket.create_connection((host, port), timeout=5).close()
            found[host].append(port)
        except OSError:
            pass
print(json.dumps(found))
"""


def open_ports(hosts: list[str], ports: list[int]) -> dict[str, list[int]]:
    """Which of ``ports`` accept a TCP connection on each of ``hosts``, from the namespace."""
    out = in_netns("python3", "-c", OPEN_PORTS, json.dumps(hosts), json.dumps(ports))
    return dict(json.loads(out))


def journals(booted: Booted) -> str:
    return "\n".join(journal(booted.guests[r], unit_name(r)) for r in ROLES)


def unit_state(guest: Guest, role: str) -> dict[str, str]:
    shown = guest.ssh(
        f"systemctl show -p ActiveState -p MainPID -p NRestarts {unit_name(role)}"
    ).stdout
    return dict(line.split("=", 1) for line in shown.split())


def is_down(guest: Guest) -> bool:
    """SSH no longer reaches ``guest`` (it is shutting down or booting)."""
    try:
        return bool(guest.ssh("true", check=False, timeout=10).returncode == 255)
    except subprocess.TimeoutExpired:
        return True


def front_end_computes(booted: Booted) -> None:
    """The stack's own ``curlCommand``, run from the namespace, answers ``result = 22``."""
    command = booted.outputs()["curlCommand"]
    assert booted.front.address in command, command
    done = run(["ip", "netns", "exec", NETNS, "sh", "-c", command + " --max-time 20"], check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "result = 22"), (
        f"{command}: exit {done.returncode}: {done.stdout}{done.stderr}\n{journals(booted)}"
    )


def each_service_on_its_own_port(booted: Booted) -> None:
    ports = [booted.port(role) for role in ROLES]
    hosts = [booted.servers[role].address for role in ROLES]
    found = open_ports(hosts, ports)
    expected = {booted.servers[role].address: [booted.port(role)] for role in ROLES}
    assert found == expected, f"open ports {found}, expected {expected}\n{journals(booted)}"


def run_checks(booted: Booted, directory: Path, wait: int = 120) -> CheckRun:
    """``scripts/check.sh`` on the booted lab (see :func:`ssh_config_prefix`)."""
    directory.mkdir(exist_ok=True)
    return run_check_sh(
        booted.stack,
        booted.config,
        booted.outputs(),
        directory,
        "--wait",
        str(wait),
        prefix=ssh_config_prefix(booted, directory),
    )


def ssh_config_prefix(booted: Booted, directory: Path) -> tuple[str, ...]:
    """Run in the namespace with the test's ssh client settings in ``/etc/ssh/ssh_config``
    (bound over it in a mount namespace of the command's own): the stack's ``ssh -J`` runs a
    second ssh for the jump host, which takes neither ``-i`` nor ``-o`` from the command line,
    only the configuration files, like a student's own key and known hosts would."""
    config = directory / "ssh_config"
    config.write_text(
        "Host *\n"
        f"    IdentityFile {booted.key.path}\n"
        "    IdentitiesOnly yes\n"
        "    BatchMode yes\n"
        "    StrictHostKeyChecking no\n"
        "    UserKnownHostsFile /dev/null\n"
        "    LogLevel ERROR\n"
        "    ConnectTimeout 10\n"
    )
    bind = 'mount --bind "$1" /etc/ssh/ssh_config && shift && exec "$@"'
    return (
        "unshare", "--mount", "--propagation", "private", "sh", "-c", bind, "sh",
        str(config), "ip", "netns", "exec", NETNS,
    )  # fmt: skip


# --- openstack-calculator ------------------------------------------------------------------

REBOOTED = (FRONT_END, "sum")
"""The VMs the reboot test reboots: the front end and one operator."""


class TestCalculator:
    @pytest.fixture(scope="class")
    @classmethod
    def calculator(cls) -> Iterator[Booted]:
        network = load_stack_file("openstack-calculator")[K + "network"]
        gateway = network["gatewayIp"]
        with prepared("openstack-calculator", gateway, "52:54:00:6b:01") as (booted, lab):
            pool = network["allocationPools"][0]
            prefix = network["cidr"].split("/")[1]
            net = lab.network(
                f"{booted.tag}-calc",
                f"{booted.tag}c0",
                f"{gateway}/{prefix}",
                dhcp=(pool["start"], pool["end"]),
                hosts=[(s.mac, s.address, s.name) for s in booted.servers.values()],
            )
            boot_lab(lab, booted, dict.fromkeys(ROLES, net))
            yield booted

    def test_calculator_answers_from_outside(self, calculator: Booted) -> None:
        front_end_computes(calculator)
        each_service_on_its_own_port(calculator)
        for role in ROLES:
            guest = calculator.guests[role]
            assert guest.ssh("hostname").stdout.strip() == calculator.servers[role].name
            assert "DataSourceConfigDrive" in guest.ssh("cloud-init status --long").stdout
            # The service runs as systemd's dynamic user, not root.
            pid = unit_state(guest, role)["MainPID"]
            uid = guest.ssh(f"ps -o uid= -p {pid}").stdout.strip()
            assert uid.isdigit() and int(uid) != 0, f"{role}: uid {uid!r}"

    def test_a_stopped_operator_gives_502_and_a_killed_one_is_restarted(
        self, calculator: Booted
    ) -> None:
        url = f"http://{calculator.front.address}:{calculator.port(FRONT_END)}/"
        guest, unit = calculator.guests["sum"], unit_name("sum")

        guest.ssh(f"sudo systemctl stop {unit}")
        try:
            status, text = post(url, "1+2")
            assert status == 502 and calculator.servers["sum"].address in text, (status, text)
            assert post(url, "6*7") == (200, "result = 42")
        finally:
            guest.ssh(f"sudo systemctl start {unit}")

        before = unit_state(guest, "sum")
        assert before["ActiveState"] == "active", f"{before}\n{journal(guest, unit)}"
        guest.ssh(f"sudo systemctl kill --signal=SIGKILL {unit}")

        def restarted() -> bool:
            now = unit_state(guest, "sum")
            return (
                now["ActiveState"] == "active"
                and now["MainPID"] not in ("0", before["MainPID"])
                and int(now["NRestarts"]) > int(before["NRestarts"])
            )

        wait_for(
            "systemd restarts the killed sum service", restarted, 60, lambda: journal(guest, unit)
        )
        wait_for(
            "the front end computes again",
            lambda: post(url, "1+2") == (200, "result = 3"),
            60,
            lambda: journal(guest, unit),
        )

    def test_declared_checks_pass(self, calculator: Booted, tmp_path: Path) -> None:
        checked = run_checks(calculator, tmp_path)
        assert checked.status == 0, f"{checked.summary()}\n{journals(calculator)}"
        names = [c["name"] for c in checked.report["checks"]]
        # The front end computes and answers ssh; per operator: ssh through the front end, the
        # front end's call, its port closed on the (stand-in) floating IP.
        assert len(names) == 2 + 3 * len(OPERATOR_ROLES), names

    def test_every_service_is_back_after_a_reboot(self, calculator: Booted) -> None:
        # The front end and one operator reboot (the other operators' VMs are the same
        # user-data but for the role: rebooting them too would prove nothing more and cost
        # about two minutes of emulated CPU each); then every service answers again.
        vms = [calculator.guests[role] for role in REBOOTED]
        for vm in vms:
            vm.ssh("sudo systemctl reboot", check=False, timeout=30)
            # Times to SSH and to ready count from the reboot from now on.
            vm.started, vm.ssh_after, vm.ready_after = time.monotonic(), None, None
        for vm in vms:
            wait_for(f"{vm.name} goes down", lambda g=vm: is_down(g), 120, vm.diagnostics)
        boot(vms)
        for role in REBOOTED:
            guest = calculator.guests[role]
            state = unit_state(guest, role)
            assert state["ActiveState"] == "active", f"{state}\n{journal(guest, unit_name(role))}"
        front_end_computes(calculator)
        each_service_on_its_own_port(calculator)


# --- openstack-naas ------------------------------------------------------------------------

SUBNET_ROUTE = "openstack:networking/subnetRoute:SubnetRoute"


def classless_routes(program: StackRun, config: Mapping[str, Any]) -> str:
    """Sub-network 1's DHCP option 121 as Neutron's DHCP agent gives it: the subnet's host
    routes as the stack declares them, then the default route via the subnet's gateway."""
    front = config[K + "frontNetwork"]
    subnet = next(
        s
        for s in program.of_type("openstack:networking/subnet:Subnet")
        if s.inputs["cidr"] == front["cidr"]
    )
    routes = [
        f"{r.inputs['destinationCidr']},{r.inputs['nextHop']}"
        for r in program.of_type(SUBNET_ROUTE)
        if r.inputs["subnetId"] == subnet.id
    ]
    assert routes, f"the stack declares no host route on {front['cidr']}"
    return ",".join([*routes, f"0.0.0.0/0,{front['gatewayIp']}"])


def start_dnsmasq(
    storage: Path,
    bridges: Mapping[str, tuple[str, Mapping[str, Any]]],
    hosts: list[Server],
    options: list[str],
) -> subprocess.Popen[bytes]:
    """dnsmasq in the namespace: DHCP only (no DNS), one range per bridge (``bridges``: tag ->
    (device, the stack's network config)), ``hosts`` reserved by MAC as Neutron's ports."""
    args = [
        "ip", "netns", "exec", NETNS, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
        "--port=0", "--user=root", "--bind-interfaces", "--except-interface=lo", "--log-dhcp",
        f"--log-facility={storage / 'dnsmasq.log'}",
        f"--dhcp-leasefile={storage / 'dnsmasq.leases'}",
        f"--pid-file={storage / 'dnsmasq.pid'}",
    ]  # fmt: skip
    for tag, (device, net) in bridges.items():
        pool = net["allocationPools"][0]
        args += [
            f"--interface={device}",
            f"--dhcp-range=set:{tag},{pool['start']},{pool['end']},12h",
        ]
        args.append(f"--dhcp-option=tag:{tag},option:router,{net['gatewayIp']}")
    args += [f"--dhcp-host={s.mac},{s.address},{s.name}" for s in hosts]
    args += options
    started = subprocess.Popen(args, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)
    if started.poll() is not None:
        _, err = started.communicate()
        raise AssertionError(f"dnsmasq exited {started.returncode}: {err.decode()}")
    return started


class TestNaas:
    @pytest.fixture(scope="class")
    @classmethod
    def naas(cls) -> Iterator[Booted]:
        require("dnsmasq")
        shipped = load_stack_file("openstack-naas")
        front_net, op_net = shipped[K + "frontNetwork"], shipped[K + "operatorNetwork"]
        inter = shipped[K + "routers"]["inter"]["address"]
        # The mirror at the operators' gateway: the front end reaches it only through the host
        # route, the operators by their default route.
        with prepared("openstack-naas", op_net["gatewayIp"], "52:54:00:6b:02") as (booted, lab):
            tag = booted.tag
            one = lab.bridge(f"{tag}-net1", f"{tag}f0", f"{inter}/24")
            two = lab.bridge(f"{tag}-net2", f"{tag}o0", f"{op_net['gatewayIp']}/24")
            routes = classless_routes(booted.program, booted.config)
            dhcp = start_dnsmasq(
                booted.storage,
                {"net1": (f"{tag}f0", front_net), "net2": (f"{tag}o0", op_net)},
                list(booted.servers.values()),
                [f"--dhcp-option=tag:net1,option:classless-static-route,{routes}"],
            )
            try:
                nets = {r: (one if r == FRONT_END else two) for r in ROLES}
                boot_lab(lab, booted, nets)
                yield booted
            finally:
                dhcp.terminate()
                dhcp.wait(timeout=30)

    def test_front_end_reaches_the_operators_by_the_pushed_route(self, naas: Booted) -> None:
        config, front = naas.config, naas.guests[FRONT_END]
        inter = config[K + "routers"]["inter"]["address"]
        op_cidr = config[K + "operatorNetwork"]["cidr"]
        routes = front.ssh("ip -4 route show").stdout
        # The host route came by DHCP (networkd marks it proto dhcp); nobody added a route.
        assert f"{op_cidr} via {inter} " in routes and "proto dhcp" in routes, routes
        assert "proto static" not in routes and "proto boot" not in routes, routes
        # The front end's default gateway (the access router) is not here: only the host route
        # can carry its traffic to sub-network 2.
        gateway = config[K + "frontNetwork"]["gatewayIp"]
        assert f"default via {gateway} " in routes, routes
        absent = front.ssh(f"curl -s --connect-timeout 5 http://{gateway}/", check=False)
        assert absent.returncode not in (0, 255), f"{gateway} answers: {absent.stdout}"
        for role in OPERATOR_ROLES:
            address = naas.servers[role].address
            got = front.ssh(f"ip -4 route get {address}").stdout
            assert f"via {inter} " in got, got
        # In the namespace (the inter-subnet router), only the bridges' own routes.
        for device in (f"{naas.tag}f0", f"{naas.tag}o0"):
            table = in_netns("ip", "-4", "route", "show", "dev", device)
            assert "via" not in table, f"a route was added on {device}: {table}"

    def test_calculation_works_end_to_end(self, naas: Booted) -> None:
        front_end_computes(naas)
        each_service_on_its_own_port(naas)

    def test_declared_checks_pass(self, naas: Booted, tmp_path: Path) -> None:
        checked = run_checks(naas, tmp_path)
        assert checked.status == 0, f"{checked.summary()}\n{journals(naas)}"
        names = [c["name"] for c in checked.report["checks"]]
        # Those of openstack-calculator, then the front end's route to each operator and each
        # operator's default route.
        assert len(names) == 2 + 3 * len(OPERATOR_ROLES) + 2 * len(OPERATOR_ROLES), names
