"""The whole sluicegate stack as plain processes: Redis, the mock upstream (when no provider key is set), the six
services (any number of replicas each) and Envoy in front. Used by `make up` and by the e2e tests."""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluicegate.devstack.envoy import EnvoyProxy
from sluicegate.devstack.processes import ManagedProcess, RedisServer, free_port, python_module

REPO_ROOT = Path(__file__).resolve().parents[3]
BACKEND_SERVICES = ("router", "guard", "cache", "metering", "observer")
# Environment variables that mean "a real provider is configured": then the mock upstream is not started.
PROVIDER_KEY_VARIABLES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AZURE_API_KEY",
    "GEMINI_API_KEY",
    "SLUICEGATE_CATALOG",
)
GATEWAY_SERVICE = "sluicegate.gateway.v1.GatewayService"
# `StackConfig.colocated`: these run together in each `python -m sluicegate.colocated` process; the observer
# stays one process apart (it aggregates every replica's traces).
COLOCATED = "colocated"
COLOCATED_SERVICES = ("metering", "guard", "cache", "router", "orchestrator")


def grpc_target(addresses: list[str]) -> str:
    """One address, or a static list the client's round_robin policy spreads calls over."""
    return addresses[0] if len(addresses) == 1 else "ipv4:" + ",".join(addresses)


@dataclass
class StackConfig:
    run_dir: Path = REPO_ROOT / ".run"
    gateway_port: int = 8080
    envoy_admin_port: int = 0
    replicas: Mapping[str, int] = field(default_factory=dict)
    use_mock_upstream: bool | None = None  # None: only when no provider key is configured
    env: Mapping[str, str] = field(default_factory=dict)  # extra settings for every service
    api_key: str = ""
    admin_token: str = ""
    # N > 0: instead of one process per service, N co-located processes (see sluicegate.colocated).
    colocated: int = 0


class Stack:
    """Starts everything in dependency order and stops it in reverse; `processes` exposes each for tests."""

    def __init__(self, config: StackConfig) -> None:
        apart = sorted(set(config.replicas) & set(COLOCATED_SERVICES)) if config.colocated else []
        if apart:
            raise ValueError(
                f"{', '.join(apart)} run inside the co-located processes: scale them with `colocated`, not `replicas`"
            )
        self.config = config
        self.run_dir = Path(config.run_dir)
        self.log_dir = self.run_dir / "logs"
        self.api_key = config.api_key or "sg-demo-" + secrets.token_urlsafe(24)
        self.admin_token = config.admin_token or secrets.token_urlsafe(24)
        self.processes: dict[str, list[ManagedProcess]] = {}
        self.redis: RedisServer | None = None
        self.mock: ManagedProcess | None = None
        self.envoy: EnvoyProxy | None = None
        self.metrics_url = ""
        self.gateway_address = ""
        # Service name -> the process group that hosts it, where that is not its own (co-located services).
        self.hosts: dict[str, str] = {}

    # ----- start --------------------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(data_dir=self.run_dir / "redis", log_dir=self.log_dir)
        self.redis.start()
        common = self._common_env()
        use_mock = self.config.use_mock_upstream
        if use_mock is None:
            use_mock = not any(os.environ.get(name) for name in PROVIDER_KEY_VARIABLES)
        if use_mock:
            self.mock = ManagedProcess(
                "mock-upstream", [*python_module("sluicegate_mock_upstream"), "--port", "0"], self.log_dir, env=common
            )
            common["MOCK_UPSTREAM_URL"] = "http://" + self.mock.start()
        metrics_port = free_port()
        # Ports are chosen before anything starts, so services can be told where their peers will listen.
        counts = {name: max(1, self.config.replicas.get(name, 1)) for name in (*BACKEND_SERVICES, "orchestrator")}
        if self.config.colocated:
            counts[COLOCATED] = self.config.colocated
            for name in COLOCATED_SERVICES:
                counts[name] = 0
        ports = {name: [free_port() for _ in range(count)] for name, count in counts.items()}
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        service_env = {
            "router": {
                "ROUTER_CATALOG_PATH": str(self._catalog_path(use_mock)),
                "ROUTER_REDIS_URL": self.redis.url,
            },
            "guard": {"GUARD_REDIS_URL": self.redis.url, "GUARD_VAULT_KEY": self._vault_key()},
            "cache": {"CACHE_REDIS_URL": self.redis.url},
            "metering": {
                "METERING_REDIS_URL": self.redis.url,
                "METERING_CATALOG_PATH": str(self._catalog_path(use_mock)),
                "METERING_ADMIN_TOKEN": self.admin_token,
                "METERING_BOOTSTRAP_KEY": self.api_key,
                "METERING_BOOTSTRAP_TENANT": "demo",
            },
            "observer": {"OBSERVER_ADMIN_TOKEN": self.admin_token, "OBSERVER_METRICS_PORT": str(metrics_port)},
        }
        if ports["metering"]:
            # The router reserves each call's budget with metering right before it calls the provider.
            service_env["router"]["ROUTER_METERING_ADDR"] = grpc_target([f"127.0.0.1:{p}" for p in ports["metering"]])
        backends = tuple(name for name in BACKEND_SERVICES if ports[name])
        addresses = self._start_services(backends, common, service_env, ports)
        service_env["orchestrator"] = {
            "ORCHESTRATOR_REDIS_URL": self.redis.url,
            **{f"ORCHESTRATOR_{name.upper()}_ADDR": grpc_target(addresses[name]) for name in backends},
        }
        if self.config.colocated:
            service_env[COLOCATED] = {k: v for name in COLOCATED_SERVICES for k, v in service_env.get(name, {}).items()}
            addresses.update(self._start_services((COLOCATED,), common, service_env, ports))
            for name in COLOCATED_SERVICES:
                addresses[name] = addresses[COLOCATED]
                self.hosts[name] = COLOCATED
        else:
            addresses.update(self._start_services(("orchestrator",), common, service_env, ports))
        self.envoy = EnvoyProxy(
            self.run_dir,
            listen_port=self.config.gateway_port,
            admin_port=self.config.envoy_admin_port,
            upstreams={name: addresses[name] for name in ("orchestrator", "metering", "observer")},
            admin_token=self.admin_token,
        )
        self.gateway_address = self.envoy.start()
        self._wait_until_serving(self.gateway_address, GATEWAY_SERVICE)

    def _common_env(self) -> dict[str, str]:
        return {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONUNBUFFERED": "1",
            # numpy and onnxruntime default to a thread per core; with many processes on few cores that thrashes.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            **self.config.env,
        }

    def _catalog_path(self, use_mock: bool) -> Path:
        if os.environ.get("SLUICEGATE_CATALOG"):
            return Path(os.environ["SLUICEGATE_CATALOG"])
        return REPO_ROOT / "deploy" / "catalog" / ("mock.yaml" if use_mock else "example.yaml")

    def _vault_key(self) -> str:
        """One vault key for every guard replica (they must read each other's PII mappings), kept across restarts."""
        path = self.run_dir / "guard-vault.key"
        if not path.exists():
            path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        return path.read_text().strip()

    def _start_services(
        self,
        names: tuple[str, ...],
        common: Mapping[str, str],
        service_env: Mapping[str, Mapping[str, str]],
        ports: Mapping[str, list[int]],
    ) -> dict[str, list[str]]:
        """Starts every replica of the named services at once, on its port, and waits for all of them to listen."""
        launched: list[tuple[str, ManagedProcess]] = []
        for name in names:
            count = len(ports[name])
            for index, port in enumerate(ports[name]):
                label = name if count == 1 else f"{name}-{index + 1}"
                # A fixed port per replica (rather than 0) lets a test stop a service and start it again at
                # the address its callers already have.
                # A co-located process serves every API it hosts on the orchestrator's port.
                port_variable = "ORCHESTRATOR_PORT" if name == COLOCATED else f"{name.upper()}_PORT"
                env = {**common, **service_env.get(name, {}), port_variable: str(port)}
                # Each replica serves its own /metrics; the first observer's port is the one `make up` prints.
                if name in ("router", COLOCATED):
                    env["ROUTER_METRICS_PORT"] = str(free_port())
                elif name == "observer" and index > 0:
                    env["OBSERVER_METRICS_PORT"] = str(free_port())
                module = "sluicegate.colocated" if name == COLOCATED else f"sluicegate_{name}"
                process = ManagedProcess(label, python_module(module), self.log_dir, env=env)
                self.processes.setdefault(name, []).append(process)
                launched.append((name, process))
        with ThreadPoolExecutor(max_workers=len(launched)) as pool:
            bound = list(pool.map(lambda item: item[1].start(timeout_seconds=120), launched))
        addresses: dict[str, list[str]] = {}
        for (name, _), address in zip(launched, bound, strict=True):
            addresses.setdefault(name, []).append(address)
        for (_, process), address in zip(launched, bound, strict=True):
            self._wait_until_serving(address, "", process)
        return addresses

    @staticmethod
    def _wait_until_serving(
        address: str, service: str, process: ManagedProcess | None = None, timeout: float = 120
    ) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if process is not None and not process.alive():
                    raise RuntimeError(f"{process.name} exited; see {process.log_path}:\n{process.tail()}")
                try:
                    status = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"{address} ({service or 'server'}) did not report SERVING within {timeout}s")

    # ----- stop ---------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stops Envoy, the orchestrator, the services, the mock and Redis, in that order, each waited for."""
        if self.envoy is not None:
            self.envoy.stop()
        ordered = [*self.processes.get(COLOCATED, []), *self.processes.get("orchestrator", [])]
        for name in BACKEND_SERVICES:
            ordered.extend(self.processes.get(name, []))
        with ThreadPoolExecutor(max_workers=max(1, len(ordered))) as pool:
            list(pool.map(lambda process: process.stop(), ordered))
        for process in (self.mock, self.redis):
            if process is not None:
                process.stop()

    def service(self, name: str, index: int = 0) -> ManagedProcess:
        """The process (replica `index`) that serves `name`: its own, or the co-located one hosting it."""
        return self.replicas(name)[index]

    def replicas(self, name: str) -> list[ManagedProcess]:
        """Every process that serves `name`."""
        return self.processes[self.hosts.get(name, name)]

    def restart(self, name: str, index: int = 0) -> None:
        """Starts a stopped (or crashed) service again on its old port and waits until it is SERVING."""
        process = self.service(name, index)
        process.stop()
        address = process.start(timeout_seconds=120)
        self._wait_until_serving(address, "", process)
