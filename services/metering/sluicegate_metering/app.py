"""Wires metering together: Redis, the catalog, keys, budgets, the meter, the servicers and the reclaimer."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from sluicegate.catalog import Catalog, load_catalog
from sluicegate.metering.v1 import metering_pb2_grpc
from sluicegate.runtime.auth import AdminCheck
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.redis import create_redis, redis_readiness
from sluicegate.runtime.server import Build, ServiceApp
from sluicegate_metering.budgets import BudgetBook
from sluicegate_metering.keys import KeyStore, resolve_salt
from sluicegate_metering.pricing import Pricer
from sluicegate_metering.ratelimits import DefaultRates, RateLimitBook
from sluicegate_metering.records import KeySpec
from sluicegate_metering.reservations import Meter, reclaim_forever
from sluicegate_metering.servicer import MeteringAdminServicer, MeteringServicer
from sluicegate_metering.settings import MeteringSettings
from sluicegate_metering.spend import SpendReport
from sluicegate_metering.validation import VALIDATORS

METERING_SERVICE = "sluicegate.metering.v1.MeteringService"
METERING_ADMIN_SERVICE = "sluicegate.metering.v1.MeteringAdminService"

log = get_logger(__name__)


def make_build(
    settings: MeteringSettings,
    client: aioredis.Redis | None = None,
    catalog: Catalog | None = None,
    clock: Callable[[], float] = time.time,
) -> Build:
    """A build function; tests hand in their own Redis client, catalog or clock."""

    async def build(app: ServiceApp) -> None:
        redis_client = client or create_redis(settings.redis_url, settings.redis_max_connections)
        if client is None:
            app.on_shutdown(redis_client.aclose)
        models = catalog or load_catalog(settings.catalog_path)
        pricer = Pricer(models)
        salt = await resolve_salt(redis_client, settings.key_salt.get_secret_value())
        keys = KeyStore(redis_client, salt, clock, settings.key_cache_seconds)
        bootstrap_secret = settings.bootstrap_key.get_secret_value()
        if bootstrap_secret:
            spec = KeySpec(tenant_id=settings.bootstrap_tenant, name="bootstrap")
            if await keys.ensure(spec, bootstrap_secret):
                log.info("created the bootstrap key", tenant_id=settings.bootstrap_tenant)
        budgets = BudgetBook(redis_client, clock, settings.default_tenant_daily_micros_usd)
        meter = Meter(
            redis_client,
            pricer,
            budgets,
            clock,
            reservation_ttl_seconds=settings.reservation_ttl_seconds,
            spend_retention_days=settings.spend_retention_days,
            default_rates=DefaultRates(
                settings.default_tenant_requests_per_minute, settings.default_tenant_tokens_per_minute
            ),
        )
        admin = AdminCheck(settings.admin_token.get_secret_value())
        app.add_servicer(
            metering_pb2_grpc.add_MeteringServiceServicer_to_server, MeteringServicer(keys, meter), METERING_SERVICE
        )
        app.add_servicer(
            metering_pb2_grpc.add_MeteringAdminServiceServicer_to_server,
            MeteringAdminServicer(
                admin, keys, budgets, RateLimitBook(redis_client, list(models.models)), SpendReport(redis_client, clock)
            ),
            METERING_ADMIN_SERVICE,
        )
        for message_type, validator in VALIDATORS.items():
            app.add_validator(message_type, validator)
        app.add_readiness_check("redis", redis_readiness(redis_client))
        app.spawn(reclaim_forever(meter, settings.reconcile_interval_seconds))

    return build


async def build(app: ServiceApp) -> None:
    """The build `python -m sluicegate_metering` runs, from the settings the runtime loaded."""
    if not isinstance(app.settings, MeteringSettings):
        raise TypeError(f"metering needs MeteringSettings, got {type(app.settings).__name__}")
    await make_build(app.settings)(app)
