"""The Docker description stays in step with the local stack: images exist, settings are real settings."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from sluicegate.colocated import DEFAULT_SERVICES
from sluicegate.runtime.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("router", "guard", "cache", "metering", "observer", "orchestrator")
# The two compose files: one image per service, and the co-located one (deploy/colocated/).
COMPOSE_FILES = {
    "main": REPO_ROOT / "docker-compose.yml",
    "colocated": REPO_ROOT / "deploy" / "colocated" / "docker-compose.yml",
}
COMPOSE = {stack: yaml.safe_load(path.read_text()) for stack, path in COMPOSE_FILES.items()}


class Image(NamedTuple):
    """A compose entry built from this repository: the services its process hosts and the module its CMD runs."""

    stack: str
    name: str
    hosts: tuple[str, ...]
    module: str

    @property
    def front(self) -> str:
        """The service whose address the process serves on: a co-located process serves on the orchestrator's."""
        return "orchestrator" if "orchestrator" in self.hosts else self.hosts[0]

    @property
    def environment(self) -> dict[str, str]:
        return COMPOSE[self.stack]["services"][self.name].get("environment", {})

    @property
    def dockerfile(self) -> Path:
        build = COMPOSE[self.stack]["services"][self.name]["build"]
        return (COMPOSE_FILES[self.stack].parent / build["context"] / build["dockerfile"]).resolve()

    @property
    def port(self) -> int:
        return int(self.environment[f"{_prefix(self.front)}PORT"])


IMAGES = [
    *(Image("main", service, (service,), f"sluicegate_{service}") for service in SERVICES),
    Image("colocated", "observer", ("observer",), "sluicegate_observer"),
    Image("colocated", "gateway", DEFAULT_SERVICES, "sluicegate.colocated"),
]
IMAGE_IDS = [f"{image.stack}-{image.name}" for image in IMAGES]


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"sluicegate_{service}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings
    ]
    assert len(classes) == 1, f"{service} should define one settings class"
    return classes[0]


def _prefix(service: str) -> str:
    return _settings_class(service).model_config["env_prefix"]


def _owner(variable: str) -> str | None:
    """The service whose settings the variable belongs to; None for another program's (litellm, OpenTelemetry)."""
    return next((service for service in SERVICES if variable.startswith(_prefix(service))), None)


def _image_hosting(stack: str, service: str) -> Image:
    return next(image for image in IMAGES if image.stack == stack and service in image.hosts)


def _pip_installed(dockerfile: str) -> set[str]:
    """The repository folders the Dockerfile's `pip install` commands install, without their extras."""
    commands = re.findall(r"pip install ([^&\n]*)", dockerfile.replace("\\\n", " "))
    return {word.strip('"').split("[")[0] for command in commands for word in command.split()}


@pytest.mark.parametrize("image", IMAGES, ids=IMAGE_IDS)
def test_every_image_is_built_from_the_folders_of_the_services_it_hosts(image: Image) -> None:
    text = image.dockerfile.read_text()
    copied = set(re.findall(r"^COPY (\S+)", text, re.MULTILINE))
    installed = _pip_installed(text)
    assert "./libs" in installed
    for service in image.hosts:
        assert f"services/{service}/" in copied, f"{image.name} image does not copy {service}"
        assert f"./services/{service}" in installed, f"{image.name} image does not install {service}"
    assert f'CMD ["python", "-m", "{image.module}"]' in text


def test_colocated_gateway_image_is_the_colocated_dockerfile() -> None:
    gateway = _image_hosting("colocated", "orchestrator")
    assert gateway.dockerfile == REPO_ROOT / "deploy" / "colocated" / "Dockerfile"


@pytest.mark.parametrize("image", IMAGES, ids=IMAGE_IDS)
def test_compose_settings_are_settings_the_services_read(image: Image) -> None:
    owners = {name: _owner(name) for name in image.environment}
    for service in image.hosts:
        assert service in owners.values(), f"{image.name} gets no {_prefix(service)} settings"
    for name, owner in owners.items():
        if owner is None:
            continue
        assert owner in image.hosts, f"{name} is a setting of {owner}, which {image.name} does not run"
        assert name[len(_prefix(owner)) :].lower() in _settings_class(owner).model_fields, (
            f"{name} is not a setting of {owner}"
        )


@pytest.mark.parametrize("image", IMAGES, ids=IMAGE_IDS)
def test_compose_ports_are_ports_the_image_exposes(image: Image) -> None:
    exposed = {
        int(port)
        for line in re.findall(r"^EXPOSE\s+(.+)$", image.dockerfile.read_text(), re.M)
        for port in line.split()
    }
    ports = {int(value) for name, value in image.environment.items() if _owner(name) and name.endswith("_PORT")}
    assert image.port in ports
    assert ports <= exposed, f"{image.name} image should expose {sorted(ports - exposed)}"


@pytest.mark.parametrize("image", IMAGES, ids=IMAGE_IDS)
def test_addresses_reach_services_in_other_containers_at_their_compose_port(image: Image) -> None:
    for name, value in image.environment.items():
        owner = _owner(name)
        if owner is None or not name.endswith("_ADDR"):
            continue
        target = name[len(_prefix(owner)) : -len("_ADDR")].lower()
        assert target not in image.hosts, f"{name}: calls to {target} stay in the process, it needs no address"
        host = _image_hosting(image.stack, target)
        assert value == f"dns:///{host.name}:{host.port}"


@pytest.mark.parametrize("stack", COMPOSE)
def test_orchestrator_reaches_every_backend_it_does_not_host(stack: str) -> None:
    front = _image_hosting(stack, "orchestrator")
    addresses = {name for name in front.environment if re.fullmatch(r"ORCHESTRATOR_[A-Z]+_ADDR", name)}
    backends = {"router", "guard", "cache", "metering", "observer"} - set(front.hosts)
    assert addresses == {f"ORCHESTRATOR_{service.upper()}_ADDR" for service in backends}


@pytest.mark.parametrize("stack", COMPOSE)
def test_envoy_config_points_at_the_compose_services(stack: str) -> None:
    volume = COMPOSE[stack]["services"]["envoy"]["volumes"][0]
    source, target = volume.split(":")[:2]
    assert target == "/etc/envoy/envoy.yaml"
    envoy = yaml.safe_load((COMPOSE_FILES[stack].parent / source).read_text())
    endpoints = {
        cluster["name"]: [
            lb["endpoint"]["address"]["socket_address"]
            for group in cluster["load_assignment"]["endpoints"]
            for lb in group["lb_endpoints"]
        ]
        for cluster in envoy["static_resources"]["clusters"]
        if "load_assignment" in cluster
    }
    for service in ("orchestrator", "metering", "observer"):
        host = _image_hosting(stack, service)
        assert endpoints[service] == [{"address": host.name, "port_value": host.port}], (
            f"envoy does not reach {service} at {host.name}:{host.port}"
        )
