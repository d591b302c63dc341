"""Builds the guard: Redis vault, process-pool scanner, policy, servicer, validators and readiness checks."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sluicegate.guard.v1 import guard_pb2, guard_pb2_grpc
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.redis import create_redis, redis_readiness
from sluicegate.runtime.server import Build, ServiceApp
from sluicegate_guard.engine import EngineConfig
from sluicegate_guard.guard import Guard
from sluicegate_guard.policy import GuardPolicy, TenantPolicies
from sluicegate_guard.pool import PoolScanner, Scanner
from sluicegate_guard.scan_cache import CachingScanner
from sluicegate_guard.servicer import GuardServicer
from sluicegate_guard.settings import GuardSettings
from sluicegate_guard.validation import input_validator, output_validator
from sluicegate_guard.vault import Vault

SERVICE_NAME = guard_pb2.DESCRIPTOR.services_by_name["GuardService"].full_name

log = get_logger(__name__)


def _vault_key(settings: GuardSettings) -> bytes:
    key = settings.vault_key_bytes()
    if key is None:
        log.warning(
            "GUARD_VAULT_KEY is not set: using an ephemeral key; other replicas cannot restore this one's handles"
        )
        key = AESGCM.generate_key(bit_length=256)
    return key


def make_build(scanner: Scanner | None = None) -> Build:
    """The build function; a test may hand in a scanner (it then owns it and closes it itself)."""

    async def build(app: ServiceApp) -> None:
        settings = cast(GuardSettings, app.settings)
        redis = create_redis(settings.redis_url)
        app.on_shutdown(redis.aclose)
        active = scanner
        if active is None:
            config = EngineConfig(
                ner=settings.ner,
                ner_model=settings.ner_model,
                score_threshold=settings.pii_score_threshold,
                allow_list=tuple(settings.allow_list),
                semantic=settings.semantic,
            )
            pool = PoolScanner.from_config(config, settings.workers)
            app.on_shutdown(pool.close)
            active = CachingScanner(pool, settings.scan_cache_entries) if settings.scan_cache_entries else pool
        policy = GuardPolicy(
            injection_threshold=settings.injection_threshold,
            pii_action=settings.pii_action,
            secret_action=settings.secret_action,
            entity_actions=dict(settings.entity_actions),
        )
        policies = (
            TenantPolicies.load(Path(settings.policy_path), policy) if settings.policy_path else TenantPolicies(policy)
        )
        vault = Vault(redis, _vault_key(settings), settings.vault_ttl_seconds)
        guard = Guard(active, vault, policies, settings.scan_timeout_seconds)
        app.add_servicer(guard_pb2_grpc.add_GuardServiceServicer_to_server, GuardServicer(guard), SERVICE_NAME)
        app.add_validator(guard_pb2.InspectInputRequest, input_validator(settings.max_scan_chars))
        app.add_validator(guard_pb2.InspectOutputRequest, output_validator(settings.max_scan_chars))
        app.add_readiness_check("redis", redis_readiness(redis))
        app.add_readiness_check("scanner", active.ready)

    return build


build = make_build()
