"""The Docker description stays in step with the local stack: images exist, settings are real settings."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from sluicegate.runtime.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = ("router", "guard", "cache", "metering", "observer", "orchestrator")


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"sluicegate_{service}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings
    ]
    assert len(classes) == 1, f"{service} should define one settings class"
    return classes[0]


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_an_image_built_from_its_own_folder(service: str) -> None:
    build = COMPOSE["services"][service]["build"]
    dockerfile = REPO_ROOT / build["dockerfile"]
    assert dockerfile.exists()
    text = dockerfile.read_text()
    assert f"services/{service}/" in text
    assert f'python", "-m", "sluicegate_{service}"' in text


@pytest.mark.parametrize("service", SERVICES)
def test_compose_settings_are_settings_the_service_reads(service: str) -> None:
    settings = _settings_class(service)
    prefix = settings.model_config["env_prefix"]
    environment = COMPOSE["services"][service].get("environment", {})
    own = [name for name in environment if name.startswith(prefix)]
    assert own, f"{service} gets no {prefix} settings"
    for name in own:
        assert name[len(prefix) :].lower() in settings.model_fields, f"{name} is not a setting of {service}"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_port_matches_the_image(service: str) -> None:
    prefix = _settings_class(service).model_config["env_prefix"]
    port = COMPOSE["services"][service]["environment"][f"{prefix}PORT"]
    dockerfile = (REPO_ROOT / COMPOSE["services"][service]["build"]["dockerfile"]).read_text()
    assert re.search(rf"EXPOSE\s+{port}\b", dockerfile), f"{service} image should expose {port}"


def test_orchestrator_reaches_every_backend_at_its_compose_port() -> None:
    environment = COMPOSE["services"]["orchestrator"]["environment"]
    for service in ("router", "guard", "cache", "metering", "observer"):
        prefix = _settings_class(service).model_config["env_prefix"]
        port = COMPOSE["services"][service]["environment"][f"{prefix}PORT"]
        assert environment[f"ORCHESTRATOR_{service.upper()}_ADDR"] == f"dns:///{service}:{port}"


def test_envoy_config_points_at_the_compose_services() -> None:
    envoy = yaml.safe_load((REPO_ROOT / "deploy/envoy/envoy.yaml").read_text())
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
        prefix = _settings_class(service).model_config["env_prefix"]
        port = int(COMPOSE["services"][service]["environment"][f"{prefix}PORT"])
        addresses = [a for name, found in endpoints.items() if service in name for a in found]
        assert {"address": service, "port_value": port} in addresses, f"envoy does not reach {service}:{port}"
