"""The guard's decisions: scan a prompt and pseudonymise it, restore and screen an answer (whole or streamed).

It fails closed: a scan that errors or outlasts its timeout, or a vault that cannot be reached, is
UNAVAILABLE (GUARD_UNAVAILABLE), never a pass, unless the tenant's policy chose fail-open for the scan:
then the prompt passes unchanged with the verdict NOT_SCANNED, so the decision record says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import grpc
from redis.exceptions import RedisError

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import ServiceError, denied, unavailable
from sluicegate.runtime.logs import get_logger
from sluicegate_guard.credentials import CredentialDetector
from sluicegate_guard.engine import TextScan
from sluicegate_guard.injection import fuse
from sluicegate_guard.output import OutputScreen, OutputStream
from sluicegate_guard.placeholders import Pseudonymiser, Span, restore
from sluicegate_guard.policy import EntityAction, GuardPolicy, TenantPolicies, is_secret
from sluicegate_guard.pool import Scanner
from sluicegate_guard.vault import Vault
from sluicegate_guard.verdicts import (
    Action,
    Finding,
    InputInspection,
    Kind,
    OutputInspection,
    StreamPiece,
    Verdict,
)

log = get_logger(__name__)

T = TypeVar("T")

_ENTITY_ACTIONS = {
    EntityAction.PSEUDONYMISE: Action.SANITIZE,
    EntityAction.MASK: Action.SANITIZE,
    EntityAction.REDACT: Action.SANITIZE,
    EntityAction.BLOCK: Action.BLOCK,
    EntityAction.ALLOW: Action.ALLOW,
}
_REPLACED = frozenset({EntityAction.PSEUDONYMISE, EntityAction.MASK, EntityAction.REDACT})


class Guard:
    """Inspects prompts and answers with a scanner (off the event loop), a vault and per-tenant policies."""

    def __init__(
        self,
        scanner: Scanner,
        vault: Vault,
        policy: GuardPolicy | TenantPolicies,
        scan_timeout_seconds: float,
        detector: CredentialDetector | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._scanner = scanner
        self._vault = vault
        self._policies = policy if isinstance(policy, TenantPolicies) else TenantPolicies(policy)
        self._scan_timeout_seconds = scan_timeout_seconds
        self._detector = detector or CredentialDetector()
        self._clock = clock

    async def inspect_input(self, tenant_id: str, messages: Sequence[Sequence[str]]) -> InputInspection:
        """Scans every text of every message; `messages` holds each message's texts in order."""
        started = self._clock()
        policy = self._policies.for_tenant(tenant_id)
        try:
            scans = iter(await self._scan([text for texts in messages for text in texts]))
        except ServiceError:
            if not policy.fail_open:
                raise
            verdict = Verdict(Action.NOT_SCANNED, duration_ms=self._elapsed_ms(started))
            _log_verdict("input passed unscanned (tenant fail-open)", verdict)
            return InputInspection(verdict, [list(texts) for texts in messages])
        pseudonymiser = Pseudonymiser()
        findings: list[Finding] = []
        sanitized: list[list[str]] = []
        blocked = replaced = False
        injection_score = 0.0
        for message_index, texts in enumerate(messages):
            injections: list[Finding] = []
            sanitized_texts = []
            offset = 0  # findings are placed in the message's texts joined by newlines
            for text in texts:
                scan = next(scans)
                entity_findings, spans = _entity_findings(policy, scan, message_index, offset)
                blocked = blocked or any(finding.action is Action.BLOCK for finding in entity_findings)
                replaced = replaced or bool(spans)
                findings.extend(entity_findings)
                injections.extend(_injection_findings(scan, message_index, offset))
                sanitized_texts.append(pseudonymiser.replace(text, spans))
                offset += len(text) + 1
            message_score = fuse(finding.score for finding in injections)
            injection_score = max(injection_score, message_score)
            if message_score >= policy.injection_threshold:
                blocked = True
                injections = [dataclasses.replace(finding, action=Action.BLOCK) for finding in injections]
            findings.extend(injections)
            sanitized.append(sanitized_texts)

        handle = ""
        if blocked:
            action, sanitized = Action.BLOCK, []
        elif replaced:
            action = Action.SANITIZE
            if pseudonymiser.mapping:
                handle = await self._vault_call(self._vault.store(tenant_id, pseudonymiser.mapping))
        else:
            action = Action.ALLOW
        verdict = Verdict(action, findings, injection_score, self._elapsed_ms(started))
        _log_verdict("input inspected", verdict)
        return InputInspection(verdict, sanitized, handle)

    async def inspect_output(self, tenant_id: str, restore_handle: str, text: str, canary: str) -> OutputInspection:
        started = self._clock()
        mapping = await self._vault_call(self._vault.load(tenant_id, restore_handle))
        restored = restore(text, mapping)
        findings = OutputScreen(self._detector, canary, mapping.values()).findings(restored)
        if findings:
            verdict = Verdict(Action.BLOCK, findings, duration_ms=self._elapsed_ms(started))
            restored = ""
        else:
            verdict = Verdict(Action.ALLOW, duration_ms=self._elapsed_ms(started))
        _log_verdict("output inspected", verdict)
        return OutputInspection(verdict, restored)

    async def inspect_output_stream(
        self, tenant_id: str, restore_handle: str, canary: str, chunks: AsyncIterator[str]
    ) -> AsyncIterator[StreamPiece]:
        """Yields restored text as it becomes safe; a violation ends the stream with PERMISSION_DENIED."""
        busy_seconds = 0.0
        started = self._clock()
        mapping = await self._vault_call(self._vault.load(tenant_id, restore_handle))
        stream = OutputStream(mapping, OutputScreen(self._detector, canary, mapping.values()))
        busy_seconds += self._clock() - started
        async for chunk in chunks:
            started = self._clock()
            release = stream.push(chunk)
            busy_seconds += self._clock() - started
            if release.findings:
                raise _stream_blocked(release.findings)
            if release.text:
                yield StreamPiece(release.text)
        started = self._clock()
        release = stream.finish()
        busy_seconds += self._clock() - started
        if release.findings:
            raise _stream_blocked(release.findings)
        verdict = Verdict(Action.ALLOW, duration_ms=busy_seconds * 1000)
        _log_verdict("output stream inspected", verdict)
        yield StreamPiece(release.text, verdict)

    async def _scan(self, texts: list[str]) -> list[TextScan]:
        try:
            return await asyncio.wait_for(self._scanner.scan(texts), self._scan_timeout_seconds)
        except TimeoutError:
            log.warning("scan timed out", timeout_seconds=self._scan_timeout_seconds)
            raise _guard_unavailable("the guard could not scan in time") from None
        except Exception as exc:  # noqa: BLE001 - any scanner failure fails closed as UNAVAILABLE
            log.warning("scan failed", error=type(exc).__name__)
            raise _guard_unavailable("the guard could not scan the text") from None

    @staticmethod
    async def _vault_call(call: Awaitable[T]) -> T:
        try:
            return await call
        except (RedisError, OSError) as exc:
            log.warning("vault unreachable", error=type(exc).__name__)
            raise _guard_unavailable("the guard's PII vault is unreachable") from None

    def _elapsed_ms(self, started: float) -> float:
        return (self._clock() - started) * 1000


def _entity_findings(
    policy: GuardPolicy, scan: TextScan, message_index: int, offset: int
) -> tuple[list[Finding], list[Span]]:
    """The text's entity findings under the tenant's policy, and the spans to replace."""
    findings = []
    spans = []
    for hit in scan.entities:
        if hit.score < policy.min_score_for(hit.entity_type):
            continue
        entity_action = policy.action_for(hit.entity_type)
        findings.append(
            Finding(
                Kind.SECRET if is_secret(hit.entity_type) else Kind.PII,
                hit.entity_type,
                hit.score,
                message_index,
                offset + hit.start,
                offset + hit.end,
                _ENTITY_ACTIONS[entity_action],
                "presidio",
            )
        )
        if entity_action in _REPLACED:
            spans.append(Span(hit.start, hit.end, hit.entity_type, entity_action.value))
    return findings, spans


def _injection_findings(scan: TextScan, message_index: int, offset: int) -> list[Finding]:
    return [
        Finding(
            Kind.INJECTION,
            hit.category,
            hit.score,
            message_index,
            offset + hit.start,
            offset + hit.end,
            Action.ALLOW,
            hit.detector,
        )
        for hit in scan.injections
    ]


def _guard_unavailable(message: str) -> ServiceError:
    return unavailable(errors_pb2.ERROR_REASON_GUARD_UNAVAILABLE, message, retry_after_seconds=1.0)


def _stream_blocked(findings: list[Finding]) -> ServiceError:
    canary = any(finding.kind is Kind.CANARY_LEAK for finding in findings)
    _log_verdict("output stream blocked", Verdict(Action.BLOCK, findings))
    return denied(
        grpc.StatusCode.PERMISSION_DENIED,
        errors_pb2.ERROR_REASON_CANARY_LEAK if canary else errors_pb2.ERROR_REASON_OUTPUT_BLOCKED,
        "the answer leaked the system prompt's canary" if canary else "the answer contains a credential",
        {"categories": ",".join(sorted({finding.category for finding in findings}))},
    )


def _log_verdict(event: str, verdict: Verdict) -> None:
    """Logs counts and categories only: never text, values or spans' contents."""
    log.info(
        event,
        action=verdict.action.value,
        findings=len(verdict.findings),
        categories=sorted({finding.category for finding in verdict.findings}),
        injection_score=round(verdict.injection_score, 3),
        duration_ms=round(verdict.duration_ms, 3),
    )
