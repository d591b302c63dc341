"""Builds the router: the catalog, the provider clients (lean HTTP, and litellm loaded off the event loop when a
deployment needs it), the domain objects, the servicer."""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import signal
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from prometheus_client import CollectorRegistry

from sluicegate.catalog import Catalog, CatalogError, Deployment, load_catalog
from sluicegate.metering.v1 import metering_pb2_grpc
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.metrics import serve_metrics
from sluicegate.runtime.redis import create_redis
from sluicegate.runtime.server import Build, ServiceApp
from sluicegate_router.breaker import CircuitBreakers
from sluicegate_router.budget import BudgetGate
from sluicegate_router.chain import ChainCaller, RetryPolicy
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.complexity_model import DEFAULT_MODEL_PATH, ComplexityClassifier, load_embedding_classifier
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.limits import DeploymentLimits, Limits, SharedDeploymentLimits
from sluicegate_router.metrics import DeploymentCollector
from sluicegate_router.openai_http import HTTPPoolLimits, OpenAICompatibleProvider, is_openai_compatible
from sluicegate_router.planner import RoutePlanner
from sluicegate_router.policies import Ranker
from sluicegate_router.provider import Provider, ProviderSwitch
from sluicegate_router.retry_budget import RetryBudget
from sluicegate_router.router import Router
from sluicegate_router.servicer import SERVICE_NAME, RouterServicer
from sluicegate_router.settings import RouterSettings
from sluicegate_router.token_count import LitellmTokenCounter, PromptTokenCounter
from sluicegate_router.validation import validate_call_request

log = get_logger(__name__)

ProviderLoader = Callable[[Mapping[str, str]], Provider]


def load_litellm_provider(environ: Mapping[str, str]) -> Provider:
    """Imports litellm (seconds of CPU) and builds the provider client; run in a worker thread."""
    # The catalog is the gateway's price table: litellm must not fetch its own price map from the internet.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    module = importlib.import_module("sluicegate_router.litellm_provider")
    return module.LiteLLMProvider(environ)


def make_build(
    load_provider: ProviderLoader = load_litellm_provider,
    environ: Mapping[str, str] = os.environ,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Build:
    """A build function; tests hand in a provider loader, the environment (for API keys), a seeded rng and the
    circuit breakers' clock."""

    async def build(app: ServiceApp) -> None:
        settings = app.settings
        if not isinstance(settings, RouterSettings):
            raise TypeError(f"the router needs RouterSettings, got {type(settings).__name__}")
        # An invalid catalog stops the start here, with a CatalogError naming the bad entry.
        catalog = load_catalog(settings.catalog_path, environ)
        lean_providers = settings.lean_provider_names

        def uses_lean(deployment: Deployment) -> bool:
            return is_openai_compatible(deployment, lean_providers)

        lean = OpenAICompatibleProvider(
            HTTPPoolLimits(settings.http_max_connections, settings.http_keepalive_expiry_seconds),
            environ,
        )
        # If a deployment needs litellm, the server answers health checks (NOT_SERVING) while litellm loads
        # and turns SERVING once loaded. A catalog the lean client serves alone never imports litellm.
        provider = ProviderSwitch(lean, uses_lean, lambda: load_provider(environ), _deployments(catalog))
        app.add_readiness_check("provider", provider.ready)
        app.on_shutdown(provider.aclose)
        shared_rng = rng or random.Random()
        model_path = Path(settings.complexity_model_path) if settings.complexity_model_path else DEFAULT_MODEL_PATH
        # The embedding model loads in a worker thread; readiness waits for it, calls meanwhile use the rules.
        classifier = ComplexityClassifier(
            KeywordClassifier(),
            partial(load_embedding_classifier, model_path) if settings.learned_classifier else None,
        )
        app.add_readiness_check("classifier", classifier.ready)
        app.on_shutdown(classifier.aclose)
        # litellm's token counter loads in a worker thread too; readiness waits, Route meanwhile uses the heuristic.
        token_counter = PromptTokenCounter(
            LitellmTokenCounter if settings.count_prompt_tokens else None, settings.token_count_inline_max_tokens
        )
        app.add_readiness_check("token_counter", token_counter.ready)
        app.on_shutdown(token_counter.aclose)
        health = DeploymentHealth(settings.ewma_alpha)
        breakers = CircuitBreakers(settings.breaker_policy, clock)
        router = Router(
            catalog,
            RoutePlanner(
                catalog,
                KeywordClassifier(),
                shared_rng,
                Ranker(health, shared_rng),
                settings.default_policy,
                settings.cost_estimate_completion_tokens,
                settings.tenant_policies,
            ),
            classifier,
            ChainCaller(
                provider,
                health,
                breakers,
                RetryPolicy.from_settings(settings),
                shared_rng,
                retry_budget=RetryBudget(settings.retry_budget_ratio, settings.retry_budget_floor_per_second),
                limits=_deployment_limits(app, settings),
            ),
            health,
            breakers,
            settings.max_request_seconds,
            token_counter,
            _budget_gate(app, settings),
        )
        if settings.metrics_port is not None:
            registry = CollectorRegistry()
            registry.register(DeploymentCollector(lambda: router.catalog, health, breakers))
            bound = serve_metrics(app, registry, settings.host, settings.metrics_port)
            log.info("metrics", url=f"http://{settings.host}:{bound}/metrics")
        if settings.reload_on_sighup:
            _reload_on_sighup(app, settings.catalog_path, environ, router, provider)
        app.add_servicer(router_pb2_grpc.add_RouterServiceServicer_to_server, RouterServicer(router), SERVICE_NAME)
        for request_type in (router_pb2.RouteRequest, router_pb2.CompleteRequest, router_pb2.CompleteStreamRequest):
            app.add_validator(request_type, validate_call_request)

    return build


def _deployment_limits(app: ServiceApp, settings: RouterSettings) -> Limits:
    """Shared by every replica through Redis when `ROUTER_REDIS_URL` is set, else counted by this one. No readiness
    check: the router serves without Redis, counting per replica while it is unreachable."""
    if not settings.redis_url:
        return DeploymentLimits()
    client = create_redis(settings.redis_url, settings.redis_max_connections, settings.redis_timeout_seconds)
    app.on_shutdown(client.aclose)
    return SharedDeploymentLimits(client, settings.redis_timeout_seconds)


def _budget_gate(app: ServiceApp, settings: RouterSettings) -> BudgetGate:
    """Metering, for calls that ask the router to reserve their budget. No readiness check: the router serves calls
    that reserve nothing while metering is down, and fails the others closed."""
    if not settings.metering_addr:
        return BudgetGate(None, settings.metering_timeout_seconds)
    channel = create_channel(
        settings.metering_addr, ["sluicegate.metering.v1.MeteringService"], settings.metering_timeout_seconds
    )
    gate = BudgetGate(metering_pb2_grpc.MeteringServiceStub(channel), settings.metering_timeout_seconds)

    async def close() -> None:
        await gate.drain()
        await channel.close()

    app.on_shutdown(close)
    return gate


def _deployments(catalog: Catalog) -> list[Deployment]:
    return [deployment for model in catalog.models.values() for deployment in model.deployments]


def _reload_on_sighup(
    app: ServiceApp, path: str, environ: Mapping[str, str], router: Router, provider: ProviderSwitch
) -> None:
    """SIGHUP reloads the catalog file. An invalid file is logged and the running catalog stays."""
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            catalog = await asyncio.to_thread(load_catalog, path, environ)
        except (CatalogError, OSError) as error:
            log.error("catalog reload refused; the running catalog stays", error=str(error))
            return
        provider.prepare(_deployments(catalog))
        router.replace_catalog(catalog)
        log.info("catalog reloaded", path=path, models=len(catalog.models))

    def on_sighup() -> None:
        task = asyncio.ensure_future(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, on_sighup)

    async def stop_reloading() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    app.on_shutdown(stop_reloading)


build = make_build()
