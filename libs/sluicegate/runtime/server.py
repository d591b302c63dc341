"""The one async gRPC bootstrap every service runs: health that follows readiness, reflection, interceptors, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from sluicegate.runtime.inprocess import LOCAL_SERVICES, LocalServices
from sluicegate.runtime.interceptors import CallInterceptor, Validator
from sluicegate.runtime.logs import configure_logging, get_logger
from sluicegate.runtime.settings import ServiceSettings
from sluicegate.runtime.tracing import configure_tracing

ReadinessCheck = Callable[[], Awaitable[bool]]
Cleanup = Callable[[], Awaitable[None]]

log = get_logger("sluicegate.server")


@dataclass
class ServiceApp:
    """What a service registers with the bootstrap: servicers, validators, readiness checks and cleanups."""

    name: str
    settings: ServiceSettings
    servicers: list[tuple[Callable[[Any, grpc.aio.Server], None], Any, str]] = field(default_factory=list)
    validators: dict[type, Validator] = field(default_factory=dict)
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    cleanups: list[Cleanup] = field(default_factory=list)
    background_tasks: list[asyncio.Task] = field(default_factory=list)
    # The services absorbed into this one (co-located), each still reporting its own readiness.
    hosted: list[ServiceApp] = field(default_factory=list)

    def add_servicer(
        self, add_to_server: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str
    ) -> None:
        """Registers a servicer with its generated `add_XServicer_to_server` and its full service name."""
        self.servicers.append((add_to_server, servicer, full_name))

    def add_validator(self, message_type: type, validator: Validator) -> None:
        self.validators[message_type] = validator

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        """A check that must pass (return True, quickly) for the service to report SERVING."""
        self.readiness_checks[name] = check

    def on_shutdown(self, cleanup: Cleanup) -> None:
        self.cleanups.append(cleanup)

    def spawn(self, coro: Awaitable[None]) -> None:
        """Runs a background task for the server's lifetime; it is cancelled on shutdown."""
        self.background_tasks.append(asyncio.ensure_future(coro))

    def absorb(self, other: ServiceApp) -> None:
        """Takes over everything another service registered (co-located services share one server)."""
        self.servicers.extend(other.servicers)
        self.validators.update(other.validators)
        self.cleanups.extend(other.cleanups)
        self.background_tasks.extend(other.background_tasks)
        self.hosted.append(other)

    def cancel_background_tasks(self) -> None:
        for task in self.background_tasks:
            task.cancel()

    async def run_cleanups(self) -> None:
        """Runs the cleanups, last registered first (a service closes what it built on before it)."""
        for cleanup in reversed(self.cleanups):
            try:
                await cleanup()
            except Exception as exc:  # noqa: BLE001 - one failed cleanup must not skip the others
                log.warning("cleanup failed", error=repr(exc))


Build = Callable[[ServiceApp], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """One service as its `__main__` starts it: its name, settings and build function."""

    name: str
    settings: ServiceSettings
    build: Build


class RunningServer:
    """A started server: its bound address, health servicer and a stop method (tests use it directly)."""

    def __init__(self, app: ServiceApp, server: grpc.aio.Server, port: int, health_servicer: health.aio.HealthServicer):
        self.app = app
        self.server = server
        self.port = port
        self.address = f"{app.settings.host}:{port}"
        self.health = health_servicer
        self._readiness_task: asyncio.Task | None = None
        self._stopping = False
        self._heap_frozen = False

    async def _set_all(self, status: int) -> None:
        for _, _, full_name in self.app.servicers:
            await self.health.set(full_name, status)
        await self.health.set("", status)

    async def check_readiness(self) -> bool:
        """Runs every readiness check once and updates the health status to match: each service's status follows
        its own checks, the server's ("") all of them. So in a co-located process a backend that is not ready
        (the cache without its Redis) does not take the gateway out of Envoy's rotation: the orchestrator copes
        with that outage (serves uncached, fails closed) as it does when the backend runs apart."""
        readiness = [(service, await self._passes_checks(service)) for service in self.app.hosted or [self.app]]
        ready = all(service_ready for _, service_ready in readiness)
        if ready and not self._heap_frozen:
            _freeze_start_up_heap()
            self._heap_frozen = True
        if not self._stopping:
            for service, service_ready in readiness:
                for _, _, full_name in service.servicers:
                    await self.health.set(full_name, _health_status(service_ready))
            await self.health.set("", _health_status(ready))
        return ready

    async def _passes_checks(self, service: ServiceApp) -> bool:
        ready = True
        for name, check in service.readiness_checks.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=max(self.app.settings.readiness_interval_seconds, 0.5))
            except Exception as exc:  # noqa: BLE001 - a failing check means NOT_SERVING, and is logged
                log.warning("readiness check failed", service=service.name, check=name, error=type(exc).__name__)
                ok = False
            ready = ready and bool(ok)
        return ready

    async def _watch_readiness(self) -> None:
        while not self._stopping:
            await self.check_readiness()
            await asyncio.sleep(self.app.settings.readiness_interval_seconds)

    def start_readiness_watch(self) -> None:
        self._readiness_task = asyncio.ensure_future(self._watch_readiness())

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Marks every service NOT_SERVING, drains calls for the grace period, then runs the cleanups."""
        if self._stopping:
            return
        self._stopping = True
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        if self._readiness_task is not None:
            self._readiness_task.cancel()
        self.app.cancel_background_tasks()
        grace = self.app.settings.grace_seconds if grace_seconds is None else grace_seconds
        await self.server.stop(grace)
        await self.app.run_cleanups()


def _health_status(ready: bool) -> int:
    return health_pb2.HealthCheckResponse.SERVING if ready else health_pb2.HealthCheckResponse.NOT_SERVING


def _freeze_start_up_heap() -> None:
    """Moves everything built at start-up (models, litellm's tables, the catalog) out of the garbage collector's
    reach. Without it every full collection walks those objects again: 400k of them and a 200 ms pause in a
    router that has imported litellm, which lands on whatever requests are in flight."""
    gc.collect()
    gc.freeze()


async def start_service(name: str, settings: ServiceSettings, build: Build) -> RunningServer:
    """Builds the service, binds its port (0 picks a free one), starts serving and watching readiness."""
    app = ServiceApp(name=name, settings=settings)
    await build(app)
    return await _serve(app, CallInterceptor(name, app.validators, settings.log_requests))


async def start_colocated(
    name: str, settings: ServiceSettings, specs: Sequence[ServiceSpec], local: LocalServices = LOCAL_SERVICES
) -> RunningServer:
    """Builds several services into one process and one server (on `settings`' address).

    Each service is registered in `local` as soon as it is built, so the services built after it (`specs` lists
    dependencies first) call it in-process: their channels skip the network, not the interceptor, deadlines or
    cancellation. One interceptor serves all of them, with every service's validators.

    A start that fails (a build, the bind) stops what was built before it as a SIGTERM would: background tasks
    cancelled, cleanups run (the failed build's too).
    """
    interceptor = CallInterceptor(name, {}, settings.log_requests)
    composite = ServiceApp(name=name, settings=settings)
    try:
        for spec in specs:
            app = ServiceApp(name=spec.name, settings=spec.settings)
            try:
                await spec.build(app)
            finally:
                composite.absorb(app)
            for message_type, validator in app.validators.items():
                interceptor.add_validator(message_type, validator)
            for add_to_server, servicer, _ in app.servicers:
                registered = local.register(add_to_server, servicer, interceptor, spec.settings.max_message_bytes)
                for grpc_service in registered:
                    interceptor.add_hosted(grpc_service, spec.name)
        running = await _serve(composite, interceptor)
    except BaseException:
        composite.cancel_background_tasks()
        await composite.run_cleanups()
        local.clear()
        raise
    # The services stop in reverse build order, and may still call the ones built before them while they do
    # (the orchestrator settles what it owes): the registry is cleared only after every other cleanup.
    composite.cleanups.insert(0, _forget(local))
    return running


def _forget(local: LocalServices) -> Cleanup:
    async def forget() -> None:
        local.clear()

    return forget


async def _serve(app: ServiceApp, interceptor: CallInterceptor) -> RunningServer:
    settings = app.settings
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]
    server = grpc.aio.server(interceptors=[interceptor], options=options)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for add_to_server, servicer, _ in app.servicers:
        add_to_server(servicer, server)
    service_names = [full_name for _, _, full_name in app.servicers]
    reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:
        raise RuntimeError(f"{app.name}: could not bind {settings.host}:{settings.port}")
    await server.start()
    running = RunningServer(app, server, port, health_servicer)
    await running._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
    await running.check_readiness()
    running.start_readiness_watch()
    return running


def run_service(name: str, settings: ServiceSettings, build: Build) -> None:
    """The entry point a service's `__main__` calls: serve until SIGTERM or SIGINT, then stop gracefully."""
    _run_until_signalled(name, settings, lambda: start_service(name, settings, build))


def run_colocated(name: str, settings: ServiceSettings, specs: Sequence[ServiceSpec]) -> None:
    """Serves several services from one process (see `start_colocated`) until SIGTERM or SIGINT; each service's
    spans carry its own resource name."""
    hosted = [spec.name for spec in specs]
    _run_until_signalled(name, settings, lambda: start_colocated(name, settings, specs), hosted)


def _run_until_signalled(
    name: str,
    settings: ServiceSettings,
    start: Callable[[], Awaitable[RunningServer]],
    hosted: Sequence[str] = (),
) -> None:
    configure_logging(name, settings.log_level)
    configure_tracing(name, hosted)

    async def main() -> None:
        running = await start()
        # A launcher that asked for port 0 reads the bound address from this line.
        sys.stdout.write(f"LISTENING {running.address}\n")
        sys.stdout.flush()
        log.info("serving", address=running.address, services=[n for _, _, n in running.app.servicers])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping", grace_seconds=settings.grace_seconds)
        await running.stop()

    with contextlib.suppress(KeyboardInterrupt):
        # uvloop's event loop takes about a tenth off every service's CPU (`make bench ARGS=--pass-through`:
        # metering 3.5 -> 3.3, orchestrator 3.2 -> 2.9, router 4.2 -> 3.8 ms a request).
        uvloop.run(main())
