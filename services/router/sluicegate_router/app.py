"""Builds the router: the catalog, the litellm client (loaded off the event loop), the domain objects, the servicer."""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Callable, Mapping

from sluicegate.catalog import load_catalog
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.server import Build, ServiceApp
from sluicegate_router.chain import ChainCaller, RetryPolicy
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.health import DeploymentHealth
from sluicegate_router.planner import RoutePlanner
from sluicegate_router.provider import LazyProvider, Provider
from sluicegate_router.router import Router
from sluicegate_router.servicer import SERVICE_NAME, RouterServicer
from sluicegate_router.settings import RouterSettings
from sluicegate_router.validation import validate_call_request

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
) -> Build:
    """A build function; tests hand in a provider loader, the environment (for API keys) and a seeded rng."""

    async def build(app: ServiceApp) -> None:
        settings = app.settings
        if not isinstance(settings, RouterSettings):
            raise TypeError(f"the router needs RouterSettings, got {type(settings).__name__}")
        # An invalid catalog stops the start here, with a CatalogError naming the bad entry.
        catalog = load_catalog(settings.catalog_path, environ)
        # The server answers health checks (NOT_SERVING) while litellm loads; it turns SERVING once loaded.
        provider = LazyProvider(lambda: load_provider(environ))
        app.add_readiness_check("provider", provider.ready)
        app.on_shutdown(provider.aclose)
        shared_rng = rng or random.Random()
        health = DeploymentHealth(settings.ewma_alpha)
        router = Router(
            catalog,
            RoutePlanner(catalog, KeywordClassifier(), shared_rng),
            ChainCaller(provider, health, RetryPolicy.from_settings(settings), shared_rng),
            health,
            settings.max_request_seconds,
        )
        app.add_servicer(router_pb2_grpc.add_RouterServiceServicer_to_server, RouterServicer(router), SERVICE_NAME)
        for request_type in (router_pb2.RouteRequest, router_pb2.CompleteRequest, router_pb2.CompleteStreamRequest):
            app.add_validator(request_type, validate_call_request)

    return build


build = make_build()
