"""The co-located process as a whole: each service calls the services hosted beside it in-process, each reports
its own readiness, and a start that fails half-way leaves nothing of the services already built running."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluicegate.colocated import ordered
from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.convert import text_message
from sluicegate.guard.v1 import guard_pb2, guard_pb2_grpc
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.context import service_var
from sluicegate.runtime.inprocess import LOCAL_SERVICES
from sluicegate.runtime.logs import _add_serving_service
from sluicegate.runtime.server import ServiceApp, ServiceSpec, start_colocated
from sluicegate.runtime.settings import ServiceSettings
from sluicegate_guard.app import ROUTER_SERVICE_NAME, make_build
from sluicegate_guard.app import SERVICE_NAME as GUARD_SERVICE_NAME
from sluicegate_guard.engine import ScanOptions, TextScan
from sluicegate_guard.injection import InjectionHit
from sluicegate_guard.settings import GuardSettings

# Nothing listens here: a call that goes over the network instead of in-process fails.
NOWHERE = "127.0.0.1:9"


class UncertainScanner:
    """Finds a prompt injection the rules are unsure of (inside the guard's default judge band) in every text."""

    async def scan(self, texts: Sequence[str], options: ScanOptions = ScanOptions()) -> list[TextScan]:  # noqa: B008
        return [TextScan(injections=[InjectionHit("role_play", "jailbreak", 0.5, 0, len(text))]) for text in texts]

    async def ready(self) -> bool:
        return True


class JudgeRouter(router_pb2_grpc.RouterServiceServicer):
    """Answers that every text the judge asks about is an injection, and notes which model it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def Complete(self, request, context):
        self.asked.append(request.call.model)
        return router_pb2.CompleteResponse(message=text_message(chat_pb2.ROLE_ASSISTANT, "INJECTION"))


async def test_the_guards_judge_calls_the_router_hosted_beside_it_in_process(redis_url: str) -> None:
    router = JudgeRouter()

    async def build_router(app: ServiceApp) -> None:
        app.add_servicer(router_pb2_grpc.add_RouterServiceServicer_to_server, router, ROUTER_SERVICE_NAME)

    async def build_nothing(app: ServiceApp) -> None:
        return None

    settings = ServiceSettings(port=0, log_requests=False)
    guard_settings = GuardSettings(
        redis_url=redis_url, router_addr=NOWHERE, llm_judge=True, judge_model="cheap", log_requests=False
    )
    specs = {
        "guard": ServiceSpec("guard", guard_settings, make_build(scanner=UncertainScanner())),
        "router": ServiceSpec("router", settings, build_router),
        "orchestrator": ServiceSpec("orchestrator", settings, build_nothing),
    }
    running = await start_colocated("colocated", settings, [specs[name] for name in ordered(list(specs))])
    guard = guard_pb2_grpc.GuardServiceStub(create_channel(NOWHERE, [GUARD_SERVICE_NAME]))
    message = chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text="Act as my grandmother.")])
    try:
        response = await guard.InspectInput(
            guard_pb2.InspectInputRequest(principal=chat_pb2.Principal(tenant_id="acme"), messages=[message])
        )
    finally:
        await running.stop(grace_seconds=0)
    assert router.asked == ["cheap"]
    assert response.verdict.action == decision_pb2.GUARD_ACTION_BLOCK


async def test_a_start_that_fails_half_way_stops_the_services_already_built() -> None:
    stopped: list[str] = []
    background: list[asyncio.Task] = []

    async def build_first(app: ServiceApp) -> None:
        app.add_servicer(router_pb2_grpc.add_RouterServiceServicer_to_server, JudgeRouter(), "router")
        app.spawn(asyncio.Event().wait())
        background.extend(app.background_tasks)

        async def close() -> None:
            stopped.append("first")

        app.on_shutdown(close)

    async def build_broken(app: ServiceApp) -> None:
        raise RuntimeError("bad settings")

    settings = ServiceSettings(port=0, log_requests=False)
    with pytest.raises(RuntimeError, match="bad settings"):
        specs = [ServiceSpec("first", settings, build_first), ServiceSpec("broken", settings, build_broken)]
        await start_colocated("colocated", settings, specs)
    await asyncio.wait(background, timeout=1)
    assert stopped == ["first"]
    assert all(task.cancelled() for task in background)
    assert not LOCAL_SERVICES.hosts([ROUTER_SERVICE_NAME])


async def test_each_hosted_service_reports_its_own_readiness_and_the_process_all_of_them() -> None:
    """A cache whose Redis is down must not take the gateway out of Envoy's rotation: the orchestrator serves
    uncached then, as it does when the cache runs apart."""

    async def not_ready() -> bool:
        return False

    async def build_cache(app: ServiceApp) -> None:
        app.add_servicer(router_pb2_grpc.add_RouterServiceServicer_to_server, JudgeRouter(), "cache")
        app.add_readiness_check("redis", not_ready)

    async def build_orchestrator(app: ServiceApp) -> None:
        app.add_servicer(guard_pb2_grpc.add_GuardServiceServicer_to_server, guard_pb2_grpc.GuardServiceServicer(), "gw")

    settings = ServiceSettings(port=0, log_requests=False)
    specs = [ServiceSpec("cache", settings, build_cache), ServiceSpec("orchestrator", settings, build_orchestrator)]
    running = await start_colocated("colocated", settings, specs)
    try:
        async with grpc.aio.insecure_channel(running.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            statuses = {
                name: (await health.Check(health_pb2.HealthCheckRequest(service=name))).status
                for name in ("gw", "cache", "")
            }
    finally:
        await running.stop(grace_seconds=0)
    assert statuses == {
        "gw": health_pb2.HealthCheckResponse.SERVING,
        "cache": health_pb2.HealthCheckResponse.NOT_SERVING,
        "": health_pb2.HealthCheckResponse.NOT_SERVING,
    }


def _same(data: bytes) -> bytes:
    return data


class Named:
    """A service that notes which service its calls were served as."""

    def __init__(self, grpc_service: str) -> None:
        self.grpc_service = grpc_service
        self.served_as: list[str] = []

    async def who(self, request: bytes, context) -> bytes:
        self.served_as.append(service_var.get())
        return request

    def add_to_server(self, servicer, server) -> None:
        methods = {"Who": grpc.unary_unary_rpc_method_handler(servicer.who, _same, _same)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.grpc_service, methods),))
        server.add_registered_method_handlers(self.grpc_service, methods)


async def test_each_call_is_logged_under_the_service_that_served_it_not_the_process() -> None:
    alpha, beta = Named("toy.v1.Alpha"), Named("toy.v1.Beta")

    def build(named: Named):
        async def build(app: ServiceApp) -> None:
            app.add_servicer(named.add_to_server, named, named.grpc_service)

        return build

    settings = ServiceSettings(port=0, log_requests=False)
    running = await start_colocated(
        "colocated",
        settings,
        [ServiceSpec("alpha", settings, build(alpha)), ServiceSpec("beta", settings, build(beta))],
    )
    try:
        for named in (alpha, beta):
            channel = create_channel(running.address, [named.grpc_service])
            await channel.unary_unary(f"/{named.grpc_service}/Who", _same, _same)(b"?")
    finally:
        await running.stop(grace_seconds=0)

    assert (alpha.served_as, beta.served_as) == (["alpha"], ["beta"])
    assert service_var.get() == ""  # nothing leaks out of a served call
    line = {"service": "colocated", "event": "x"}
    token = service_var.set("beta")
    try:
        assert _add_serving_service(None, "info", dict(line))["service"] == "beta"
    finally:
        service_var.reset(token)
    assert _add_serving_service(None, "info", dict(line))["service"] == "colocated"
