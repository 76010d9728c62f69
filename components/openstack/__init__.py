"""OpenStack building blocks (type tokens ``cloudlabs:openstack:*``)."""

from components.openstack.floating_ip import FloatingIp, FloatingIpArgs
from components.openstack.keypair import Keypair, KeypairArgs
from components.openstack.network import PrivateNetwork, PrivateNetworkArgs, RouteSpec
from components.openstack.router import Router, RouterArgs, RouterInterfaceSpec
from components.openstack.security import RuleSpec, SecurityGroup, SecurityGroupArgs
from components.openstack.server import Server, ServerArgs

__all__ = [
    "FloatingIp",
    "FloatingIpArgs",
    "Keypair",
    "KeypairArgs",
    "PrivateNetwork",
    "PrivateNetworkArgs",
    "RouteSpec",
    "Router",
    "RouterArgs",
    "RouterInterfaceSpec",
    "RuleSpec",
    "SecurityGroup",
    "SecurityGroupArgs",
    "Server",
    "ServerArgs",
]
