"""The Envoy front proxy: its configs pass `envoy --mode validate`, and a real Envoy routes, guards and logs gRPC."""

from __future__ import annotations

import asyncio
import collections
import datetime
import json
import shutil
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.devstack.envoy import (
    GATEWAY_SERVICE,
    METERING_ADMIN_SERVICE,
    OBSERVER_QUERY_SERVICE,
    EnvoyConfigError,
    EnvoyProxy,
    main,
    render_envoy_config,
    validate_envoy_config,
)
from sluicegate.devstack.processes import completed_json_lines
from sluicegate.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.errors import RETRY_SAFE_KEY

REPO_ROOT = Path(__file__).resolve().parents[3]
NODE_CLIENT = REPO_ROOT / "clients" / "node" / "sluicegate-client.js"
ADMIN_TOKEN = "test-admin-token"
API_KEY = "sk-test-key"
STREAMED_DELTAS = ("one ", "two ", "three")
UPSTREAMS = {"orchestrator": ["127.0.0.1:50060"], "metering": ["127.0.0.1:50064"], "observer": ["127.0.0.1:50065"]}


def _write_and_validate(tmp_path: Path, **overrides: object) -> dict:
    options = {"listen_port": 0, "admin_port": 0, "upstreams": UPSTREAMS, "admin_token": ADMIN_TOKEN, **overrides}
    path = tmp_path / "envoy.yaml"
    path.write_text(render_envoy_config(**options))
    validate_envoy_config(path)
    return yaml.safe_load(path.read_text())


def _clusters(config: dict) -> dict[str, dict]:
    return {cluster["name"]: cluster for cluster in config["static_resources"]["clusters"]}


def _manager(config: dict) -> dict:
    return config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]


def _self_signed_certificate(directory: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_default_config_validates_with_public_routes_only(tmp_path):
    config = _write_and_validate(tmp_path)
    routes = _manager(config)["route_config"]["virtual_hosts"][0]["routes"]
    upstream_prefixes = {route["match"]["prefix"]: route["route"]["cluster"] for route in routes if "route" in route}
    assert upstream_prefixes == {
        f"/{GATEWAY_SERVICE}/": "orchestrator",
        "/grpc.health.v1.Health/": "orchestrator",
        "/grpc.reflection.": "orchestrator",
        f"/{METERING_ADMIN_SERVICE}/": "metering",
        f"/{OBSERVER_QUERY_SERVICE}/": "observer",
    }
    assert routes[-1]["match"] == {"prefix": "/"} and routes[-1]["direct_response"]["status"] == 404
    assert "tracing" not in _manager(config)


def test_config_with_tls_validates(tmp_path):
    cert_path, key_path = _self_signed_certificate(tmp_path)
    config = _write_and_validate(tmp_path, tls_cert_path=cert_path, tls_key_path=key_path)
    tls = config["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"]["typed_config"]
    assert tls["common_tls_context"]["alpn_protocols"] == ["h2", "http/1.1"]


def test_config_with_replicas_validates_and_balances_over_every_replica(tmp_path):
    replicas = ["127.0.0.1:50060", "127.0.0.1:50160", "127.0.0.1:50260"]
    config = _write_and_validate(tmp_path, upstreams={**UPSTREAMS, "orchestrator": replicas})
    orchestrator = _clusters(config)["orchestrator"]
    endpoints = orchestrator["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert [endpoint["endpoint"]["address"]["socket_address"]["port_value"] for endpoint in endpoints] == [
        50060,
        50160,
        50260,
    ]
    assert orchestrator["health_checks"][0]["grpc_health_check"]["service_name"] == GATEWAY_SERVICE


def test_config_with_otlp_validates_and_traces_to_the_collector(tmp_path):
    config = _write_and_validate(tmp_path, otlp_address="127.0.0.1:4317")
    provider = _manager(config)["tracing"]["provider"]["typed_config"]
    assert provider["grpc_service"]["envoy_grpc"]["cluster_name"] in _clusters(config)


def test_admin_routes_fail_closed_without_a_token(tmp_path):
    config = _write_and_validate(tmp_path, admin_token="")
    routes = _manager(config)["route_config"]["virtual_hosts"][0]["routes"]
    assert not [route for route in routes if route.get("route", {}).get("cluster") in ("metering", "observer")]


# The committed configs and the upstreams each is rendered with (the others are `render`'s defaults).
COMMITTED_CONFIGS = {
    "envoy.yaml": {},
    "envoy-colocated.yaml": {
        "orchestrator": "gateway:50060",
        "metering": "gateway:50060",
        "observer": "observer:50065",
    },
}


@pytest.mark.parametrize("name", COMMITTED_CONFIGS)
def test_committed_deploy_config_validates(name):
    validate_envoy_config(REPO_ROOT / "deploy" / "envoy" / name)


@pytest.mark.parametrize(("name", "upstreams"), COMMITTED_CONFIGS.items())
def test_committed_deploy_config_is_what_the_renderer_makes(tmp_path, name, upstreams):
    rendered = tmp_path / name
    flags = [arg for service, address in upstreams.items() for arg in (f"--{service}", address)]
    main(["render", "--out", str(rendered), "--admin-token", "change-me-admin-token", *flags])
    assert (REPO_ROOT / "deploy" / "envoy" / name).read_text() == rendered.read_text(), (
        f"deploy/envoy/{name} is stale: render it again (see deploy/envoy/README.md)"
    )


def test_invalid_config_raises_with_envoys_reason(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("static_resources: {listeners: [{name: x, no_such_field: 1}]}\n")
    with pytest.raises(EnvoyConfigError, match="no_such_field"):
        validate_envoy_config(path)


class FakeGateway(gateway_pb2_grpc.GatewayServiceServicer):
    """Echoes the question; refuses a wrong API key; remembers the metadata of the last call."""

    def __init__(self) -> None:
        self.last_metadata: dict[str, str] = {}
        self.questions: collections.Counter[str] = collections.Counter()

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> str:
        self.last_metadata = {key: value for key, value in context.invocation_metadata() or ()}
        if self.last_metadata.get("authorization") != f"Bearer {API_KEY}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown API key")
        return self.last_metadata.get("x-request-id", "")

    async def Chat(self, request, context):
        request_id = await self._authenticate(context)
        question = request.messages[-1].content[0].text
        self.questions[question] += 1
        if question.startswith("unavailable once") and self.questions[question] == 1:
            # Marked the way the orchestrator marks an UNAVAILABLE raised before any provider call.
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the pipeline did not start", ((RETRY_SAFE_KEY, "true"),))
        if question.startswith("unavailable unmarked") and self.questions[question] == 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "failed after the provider call")
        return gateway_pb2.ChatResponse(
            id=request_id,
            message=chat_pb2.Message(
                role=chat_pb2.ROLE_ASSISTANT, content=[chat_pb2.ContentPart(text=f"echo: {question}")]
            ),
            finish_reason=chat_pb2.FINISH_REASON_STOP,
            model="fake-model",
            decision=decision_pb2.DecisionRecord(request_id=request_id),
        )

    async def ChatStream(self, request, context):
        request_id = await self._authenticate(context)
        for text in STREAMED_DELTAS:
            yield gateway_pb2.ChatStreamResponse(delta=gateway_pb2.ChatDelta(text=text))
        yield gateway_pb2.ChatStreamResponse(
            summary=gateway_pb2.ChatSummary(
                id=request_id, model="fake-model", decision=decision_pb2.DecisionRecord(request_id=request_id)
            )
        )


async def _require_forwarded_admin_token(context: grpc.aio.ServicerContext) -> None:
    """The admin services check the token themselves too: Envoy must pass it on to them."""
    if ("x-admin-token", ADMIN_TOKEN) not in tuple(context.invocation_metadata() or ()):
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the admin token was not forwarded")


class FakeMeteringAdmin(metering_pb2_grpc.MeteringAdminServiceServicer):
    async def ListApiKeys(self, request, context):
        await _require_forwarded_admin_token(context)
        return metering_pb2.ListApiKeysResponse(keys=[metering_pb2.ApiKey(key_id="key-1")])


class FakeObserverQuery(observer_pb2_grpc.ObserverQueryServiceServicer):
    async def GetMetricsSummary(self, request, context):
        await _require_forwarded_admin_token(context)
        return observer_pb2.GetMetricsSummaryResponse()


class FakeInternalRouter(router_pb2_grpc.RouterServiceServicer):
    """Internal services answer when called directly: a refusal through Envoy is Envoy's doing."""

    async def Route(self, request, context):
        return router_pb2.RouteResponse()


class FakeInternalMetering(metering_pb2_grpc.MeteringServiceServicer):
    async def Authenticate(self, request, context):
        return metering_pb2.AuthenticateResponse()


async def _start_fake_upstream() -> tuple[grpc.aio.Server, str, FakeGateway]:
    server = grpc.aio.server()
    gateway = FakeGateway()
    gateway_pb2_grpc.add_GatewayServiceServicer_to_server(gateway, server)
    metering_pb2_grpc.add_MeteringAdminServiceServicer_to_server(FakeMeteringAdmin(), server)
    metering_pb2_grpc.add_MeteringServiceServicer_to_server(FakeInternalMetering(), server)
    observer_pb2_grpc.add_ObserverQueryServiceServicer_to_server(FakeObserverQuery(), server)
    router_pb2_grpc.add_RouterServiceServicer_to_server(FakeInternalRouter(), server)
    health_servicer = health.aio.HealthServicer()
    for service in (GATEWAY_SERVICE, METERING_ADMIN_SERVICE, OBSERVER_QUERY_SERVICE):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}", gateway


@dataclass
class Stack:
    envoy: EnvoyProxy
    upstream_address: str
    gateway: FakeGateway


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    server, upstream_address, gateway = await _start_fake_upstream()
    envoy = EnvoyProxy(
        tmp_path_factory.mktemp("envoy"),
        upstreams={name: [upstream_address] for name in UPSTREAMS},
        admin_token=ADMIN_TOKEN,
    )
    # Envoy's first health checks need this loop to answer them: start it from a thread.
    await asyncio.to_thread(envoy.start)
    try:
        yield Stack(envoy, upstream_address, gateway)
    finally:
        await asyncio.to_thread(envoy.stop)
        await server.stop(grace=None)


def _question(text: str) -> list[chat_pb2.Message]:
    return [chat_pb2.Message(role=chat_pb2.ROLE_USER, content=[chat_pb2.ContentPart(text=text)])]


def _auth(*extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {API_KEY}"), *extra)


@pytest_asyncio.fixture(loop_scope="module")
async def channel(stack: Stack) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(stack.envoy.address) as opened:
        yield opened


through_envoy = pytest.mark.asyncio(loop_scope="module")


@through_envoy
async def test_grpc_health_checks_find_every_upstream_healthy(stack):
    expected = {f"{name}::{stack.upstream_address}::health_flags::healthy" for name in UPSTREAMS}
    async with httpx.AsyncClient() as admin:
        for _ in range(50):
            clusters = set((await admin.get(f"{stack.envoy.admin_url}/clusters", timeout=5)).text.splitlines())
            if expected <= clusters:
                return
            await asyncio.sleep(0.1)
    pytest.fail(f"not every upstream is healthy: {sorted(line for line in clusters if 'health_flags' in line)}")


@through_envoy
async def test_chat_through_envoy_gets_a_request_id_and_never_the_admin_token(stack, channel):
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    response = await stub.Chat(
        gateway_pb2.ChatRequest(messages=_question("hello")),
        metadata=_auth(("x-admin-token", ADMIN_TOKEN)),
        timeout=10,
    )
    assert response.message.content[0].text == "echo: hello"
    assert response.id, "Envoy must generate an x-request-id when the client sends none"
    assert "x-admin-token" not in stack.gateway.last_metadata


@through_envoy
async def test_chat_keeps_the_clients_request_id(stack, channel):
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    response = await stub.Chat(
        gateway_pb2.ChatRequest(messages=_question("hi")), metadata=_auth(("x-request-id", "req-42")), timeout=10
    )
    assert response.id == "req-42"


@through_envoy
async def test_unavailable_chat_is_retried_by_envoy(stack, channel):
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    response = await stub.Chat(
        gateway_pb2.ChatRequest(messages=_question("unavailable once, please")), metadata=_auth(), timeout=10
    )
    assert response.message.content[0].text == "echo: unavailable once, please"
    assert stack.gateway.questions["unavailable once, please"] == 2


@through_envoy
async def test_unavailable_without_the_retry_safe_mark_is_not_retried(stack, channel):
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Chat(
            gateway_pb2.ChatRequest(messages=_question("unavailable unmarked")), metadata=_auth(), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert stack.gateway.questions["unavailable unmarked"] == 1


@through_envoy
async def test_requests_over_the_rate_limit_are_resource_exhausted(stack, tmp_path):
    limited = EnvoyProxy(
        tmp_path,
        upstreams={name: [stack.upstream_address] for name in UPSTREAMS},
        admin_token=ADMIN_TOKEN,
        requests_per_second=1,
    )
    await asyncio.to_thread(limited.start)
    try:
        async with grpc.aio.insecure_channel(limited.address) as limited_channel:
            stub = gateway_pb2_grpc.GatewayServiceStub(limited_channel)
            codes = []
            for _ in range(3):
                try:
                    await stub.Chat(gateway_pb2.ChatRequest(messages=_question("hi")), metadata=_auth(), timeout=10)
                    codes.append(grpc.StatusCode.OK)
                except grpc.aio.AioRpcError as error:
                    codes.append(error.code())
    finally:
        await asyncio.to_thread(limited.stop)
    # A refusal must not read as UNAVAILABLE, which clients (and Envoy) retry at once.
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes and grpc.StatusCode.UNAVAILABLE not in codes


@through_envoy
async def test_chat_stream_through_envoy_yields_deltas_then_summary(stack, channel):
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    events = [
        event
        async for event in stub.ChatStream(
            gateway_pb2.ChatStreamRequest(messages=_question("count")), metadata=_auth(), timeout=10
        )
    ]
    assert [event.delta.text for event in events[:-1]] == list(STREAMED_DELTAS)
    assert events[-1].WhichOneof("event") == "summary" and events[-1].summary.model == "fake-model"


@through_envoy
@pytest.mark.parametrize(
    ("method", "request_message"),
    [
        ("/sluicegate.router.v1.RouterService/Route", router_pb2.RouteRequest()),
        ("/sluicegate.metering.v1.MeteringService/Authenticate", metering_pb2.AuthenticateRequest(api_key="k")),
    ],
)
async def test_internal_services_are_unimplemented_through_envoy_but_served_upstream(
    stack, channel, method, request_message
):
    def call_on(target: grpc.aio.Channel):
        return target.unary_unary(method, request_serializer=type(request_message).SerializeToString)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call_on(channel)(request_message, metadata=(("x-admin-token", ADMIN_TOKEN),), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert refused.value.details() == "not a public sluicegate service"
    async with grpc.aio.insecure_channel(stack.upstream_address) as direct:
        await call_on(direct)(request_message, timeout=10)


@through_envoy
@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_admin_calls_without_the_token_are_permission_denied(channel, token):
    stub = metering_pb2_grpc.MeteringAdminServiceStub(channel)
    metadata = (("x-admin-token", token),) if token else ()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListApiKeys(metering_pb2.ListApiKeysRequest(), metadata=metadata, timeout=10)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == "admin credential required"


@through_envoy
async def test_admin_calls_with_the_token_reach_metering_and_observer(channel):
    admin = (("x-admin-token", ADMIN_TOKEN),)
    keys = await metering_pb2_grpc.MeteringAdminServiceStub(channel).ListApiKeys(
        metering_pb2.ListApiKeysRequest(), metadata=admin, timeout=10
    )
    assert [key.key_id for key in keys.keys] == ["key-1"]
    await observer_pb2_grpc.ObserverQueryServiceStub(channel).GetMetricsSummary(
        observer_pb2.GetMetricsSummaryRequest(), metadata=admin, timeout=10
    )


def _grpc_web_frames(body: bytes) -> list[tuple[int, bytes]]:
    frames, offset = [], 0
    while offset < len(body):
        flags, length = struct.unpack(">BI", body[offset : offset + 5])
        frames.append((flags, body[offset + 5 : offset + 5 + length]))
        offset += 5 + length
    return frames


@through_envoy
async def test_grpc_web_over_http1_reaches_chat(stack):
    message = gateway_pb2.ChatRequest(messages=_question("from a browser")).SerializeToString()
    async with httpx.AsyncClient(http2=False) as client:
        response = await client.post(
            f"http://{stack.envoy.address}/{GATEWAY_SERVICE}/Chat",
            content=struct.pack(">BI", 0, len(message)) + message,
            headers={
                "content-type": "application/grpc-web+proto",
                "x-grpc-web": "1",
                "authorization": f"Bearer {API_KEY}",
                "origin": "http://localhost:3000",
            },
            timeout=10,
        )
    assert response.http_version == "HTTP/1.1" and response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    (data_flags, data), (trailer_flags, trailers) = _grpc_web_frames(response.content)
    assert data_flags == 0 and trailer_flags == 0x80
    assert gateway_pb2.ChatResponse.FromString(data).message.content[0].text == "echo: from a browser"
    assert b"grpc-status:0" in trailers


@through_envoy
async def test_access_log_has_a_json_line_per_request(stack, channel):
    stub = gateway_pb2_grpc.GatewayServiceStub(channel)
    await stub.Chat(gateway_pb2.ChatRequest(messages=_question("log me")), metadata=_auth(("x-request-id", "logged-1")))
    entry = None
    for _ in range(60):  # Envoy flushes the access log every second
        text = stack.envoy.access_log_path.read_text() if stack.envoy.access_log_path.exists() else ""
        entry = next((record for record in completed_json_lines(text) if record.get("request_id") == "logged-1"), None)
        if entry:
            break
        await asyncio.sleep(0.1)
    assert entry is not None, "no access-log line for the request"
    assert entry["path"] == f"/{GATEWAY_SERVICE}/Chat" and entry["method"] == "POST"
    assert entry["grpc_status_number"] == 0 and entry["upstream_host"] == stack.upstream_address
    assert isinstance(entry["duration_ms"], int) and entry["start_time"]


async def _run_node_client(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT), *args, cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, stdout.decode(), stderr.decode()


needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@through_envoy
@needs_node
@pytest.mark.parametrize(("flags", "answer"), [((), "echo: hello node"), (("--stream",), "".join(STREAMED_DELTAS))])
async def test_node_client_through_envoy(stack, flags, answer):
    code, stdout, stderr = await _run_node_client(
        "--address", stack.envoy.address, "--api-key", API_KEY, *flags, "hello node"
    )
    assert code == 0, stderr
    printed = json.loads(stdout)
    assert printed["answer"] == answer and printed["model"] == "fake-model"
    assert printed["decision"]["requestId"] == printed["id"] != ""


@through_envoy
@needs_node
async def test_node_client_exits_non_zero_with_the_status_name(stack):
    code, stdout, stderr = await _run_node_client("--address", stack.envoy.address, "--api-key", "wrong", "hi")
    assert code != 0 and stdout == ""
    assert stderr.startswith("UNAUTHENTICATED")
