"""Builds the guard: Redis vault, process-pool scanner, policy, servicer, validators and readiness checks."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sluicegate.guard.v1 import guard_pb2, guard_pb2_grpc
from sluicegate.router.v1 import router_pb2, router_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.logs import get_logger
from sluicegate.runtime.redis import create_redis, redis_readiness
from sluicegate.runtime.server import Build, ServiceApp
from sluicegate_guard.engine import EngineConfig
from sluicegate_guard.guard import Guard
from sluicegate_guard.judge import InjectionJudge
from sluicegate_guard.output import OutputWindowSize
from sluicegate_guard.policy import GuardPolicy, TenantPolicies
from sluicegate_guard.pool import PoolScanner, Scanner
from sluicegate_guard.scan_cache import CachingScanner
from sluicegate_guard.servicer import GuardServicer
from sluicegate_guard.settings import GuardSettings
from sluicegate_guard.validation import input_validator, output_validator
from sluicegate_guard.vault import Vault

SERVICE_NAME = guard_pb2.DESCRIPTOR.services_by_name["GuardService"].full_name
JUDGE_CHANNEL_BACKSTOP_SECONDS = 60.0
ROUTER_SERVICE_NAME = router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name

log = get_logger(__name__)


def _vault_key(settings: GuardSettings) -> bytes:
    key = settings.vault_key_bytes()
    if key is None:
        log.warning(
            "GUARD_VAULT_KEY is not set: using an ephemeral key; other replicas cannot restore this one's handles"
        )
        key = AESGCM.generate_key(bit_length=256)
    return key


def _judge(app: ServiceApp, settings: GuardSettings) -> InjectionJudge | None:
    """The LLM judge over one channel to the router, or None when no router address is set."""
    if not settings.router_addr:
        if settings.llm_judge:
            log.warning("GUARD_LLM_JUDGE is on but GUARD_ROUTER_ADDR is empty: the rules decide alone")
        return None
    # The deadline is set per call: grpcio fires a service-config timeout early (grpc/grpc#40633; here
    # 2 s expired after 0.05-0.7 s), so the channel's default is only a far backstop.
    channel = create_channel(settings.router_addr, [ROUTER_SERVICE_NAME], JUDGE_CHANNEL_BACKSTOP_SECONDS, retry=False)
    app.on_shutdown(channel.close)
    return InjectionJudge(
        router_pb2_grpc.RouterServiceStub(channel), settings.judge_model, settings.judge_deadline_seconds
    )


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
            pool = PoolScanner.from_config(config, settings.workers, settings.scan_timeout_seconds)
            app.on_shutdown(pool.close)
            active = CachingScanner(pool, settings.scan_cache_entries) if settings.scan_cache_entries else pool
        policy = GuardPolicy(
            injection_threshold=settings.injection_threshold,
            pii_action=settings.pii_action,
            secret_action=settings.secret_action,
            entity_actions=dict(settings.entity_actions),
            output_pii_action=settings.output_pii_action,
            output_entity_actions=dict(settings.output_entity_actions),
            llm_judge=settings.llm_judge,
        )
        policies = (
            TenantPolicies.load(Path(settings.policy_path), policy) if settings.policy_path else TenantPolicies(policy)
        )
        vault = Vault(redis, _vault_key(settings), settings.vault_ttl_seconds)
        guard = Guard(
            active,
            vault,
            policies,
            settings.scan_timeout_seconds,
            output_window=OutputWindowSize(
                settings.output_hold_chars, settings.output_scan_step_chars, settings.output_first_step_chars
            ),
            judge=_judge(app, settings),
            judge_band=(settings.judge_min_score, settings.judge_max_score),
        )
        app.add_servicer(
            guard_pb2_grpc.add_GuardServiceServicer_to_server,
            GuardServicer(guard, settings.max_scan_chars),
            SERVICE_NAME,
        )
        app.add_validator(guard_pb2.InspectInputRequest, input_validator(settings.max_scan_chars))
        app.add_validator(guard_pb2.InspectOutputRequest, output_validator(settings.max_scan_chars))
        app.add_readiness_check("redis", redis_readiness(redis))
        app.add_readiness_check("scanner", active.ready)

    return build


build = make_build()
