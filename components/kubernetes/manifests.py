"""The sample web application's Kubernetes manifests (Deployment, ClusterIP and NodePort).

Pure functions of an :class:`AppSpec`; the control plane applies the rendered YAML once every
node is Ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.renderers.yamltext import yaml_documents


@dataclass(frozen=True)
class AppSpec:
    name: str
    """Name of the Deployment and the ``app`` label its pods and services select on."""
    image: str
    """Container image of the web application."""
    command: tuple[str, ...] = ()
    """Command run in the container; empty = the image's own."""
    replicas: int = 3
    """Number of pods."""
    container_port: int = 5000
    """Port the application listens on inside its container."""
    service_port: int = 80
    """Port of the ClusterIP and NodePort services."""
    node_port: int = 30080
    """Port opened on every node by the NodePort service (30000-32767)."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Node labels the pods must run on (e.g. ``{"PoP": "space_1"}``); empty = any worker."""
    namespace: str = "default"
    """Namespace of the three objects."""

    @property
    def cluster_ip_service(self) -> str:
        return f"{self.name}-clusterip-service"

    @property
    def node_port_service(self) -> str:
        return f"{self.name}-nodeport-service"


def _metadata(app: AppSpec, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": app.namespace, "labels": {"app": app.name}}


def deployment(app: AppSpec) -> dict[str, Any]:
    """The application's Deployment: ``replicas`` pods exposing ``container_port``."""
    container: dict[str, Any] = {"name": app.name, "image": app.image}
    if app.command:
        container["command"] = list(app.command)
    container["ports"] = [{"name": "http", "containerPort": app.container_port, "protocol": "TCP"}]
    pod_spec: dict[str, Any] = {"containers": [container]}
    if app.node_selector:
        pod_spec["nodeSelector"] = dict(app.node_selector)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(app, app.name),
        "spec": {
            "replicas": app.replicas,
            "selector": {"matchLabels": {"app": app.name}},
            "template": {"metadata": {"labels": {"app": app.name}}, "spec": pod_spec},
        },
    }


def _service(app: AppSpec, name: str, kind: str, port: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(app, name),
        "spec": {
            "type": kind,
            "selector": {"app": app.name},
            "ports": [
                {
                    "name": "http",
                    "protocol": "TCP",
                    "port": app.service_port,
                    "targetPort": app.container_port,
                    **port,
                }
            ],
        },
    }


def cluster_ip_service(app: AppSpec) -> dict[str, Any]:
    """A ClusterIP service: ``service_port`` inside the cluster to the pods' container port."""
    return _service(app, app.cluster_ip_service, "ClusterIP", {})


def node_port_service(app: AppSpec) -> dict[str, Any]:
    """A NodePort service: ``node_port`` on every node to the pods' container port."""
    return _service(app, app.node_port_service, "NodePort", {"nodePort": app.node_port})


def app_objects(app: AppSpec) -> list[dict[str, Any]]:
    """The three objects, in the order they are applied."""
    return [deployment(app), cluster_ip_service(app), node_port_service(app)]


def render_manifests(app: AppSpec) -> str:
    """The objects as one multi-document YAML file, for ``kubectl apply -f``."""
    return yaml_documents(app_objects(app))
