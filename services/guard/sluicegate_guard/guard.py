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
from sluicegate_guard.engine import EntityHit, ScanOptions, TextScan
from sluicegate_guard.injection import fuse
from sluicegate_guard.judge import InjectionJudge
from sluicegate_guard.output import (
    OutputPii,
    OutputScreen,
    OutputStream,
    OutputWindowSize,
    PiiWindow,
    Release,
    apply_spans,
)
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
        output_window: OutputWindowSize | None = None,
        judge: InjectionJudge | None = None,
        judge_band: tuple[float, float] = (0.3, 0.9),
    ) -> None:
        self._scanner = scanner
        self._vault = vault
        self._policies = policy if isinstance(policy, TenantPolicies) else TenantPolicies(policy)
        self._scan_timeout_seconds = scan_timeout_seconds
        self._detector = detector or CredentialDetector()
        self._clock = clock
        self._output_window = output_window or OutputWindowSize()
        self._judge = judge
        self._judge_band = judge_band

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
        message_injections: list[list[Finding]] = []
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
            message_injections.append(injections)
            sanitized.append(sanitized_texts)
        judged = await self._judge_uncertain(tenant_id, policy, message_injections, sanitized)
        for message_index, injections in enumerate(message_injections):
            message_score = fuse(finding.score for finding in injections)
            injection_score = max(injection_score, message_score)
            attack = message_score >= policy.injection_threshold
            if message_index in judged:
                attack = judged[message_index]
                injections = [*injections, _judge_finding(injections, attack)]
            if attack:
                blocked = True
                injections = [dataclasses.replace(finding, action=Action.BLOCK) for finding in injections]
            findings.extend(injections)

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

    async def _judge_uncertain(
        self,
        tenant_id: str,
        policy: GuardPolicy,
        message_injections: list[list[Finding]],
        sanitized: list[list[str]],
    ) -> dict[int, bool]:
        """The judge's verdicts on messages whose rules score is in the uncertain band (none it could not give).

        The judge sees the sanitised text, so no PII reaches the provider it runs on.
        """
        if self._judge is None or not policy.llm_judge:
            return {}
        low, high = self._judge_band
        uncertain = {
            index: max(injections, key=lambda finding: finding.score)
            for index, injections in enumerate(message_injections)
            if injections and low <= fuse(finding.score for finding in injections) < high
        }
        verdicts = await asyncio.gather(
            *(
                self._judge.is_injection(tenant_id, "\n".join(sanitized[index]), focus=top.start)
                for index, top in uncertain.items()
            )
        )
        return {index: verdict for index, verdict in zip(uncertain, verdicts, strict=True) if verdict is not None}

    async def inspect_output(self, tenant_id: str, restore_handle: str, text: str, canary: str) -> OutputInspection:
        """Restores the answer, blocks a canary or credential leak, then applies the output PII policy."""
        started = self._clock()
        policy = self._policies.for_tenant(tenant_id)
        mapping = await self._vault_call(self._vault.load(tenant_id, restore_handle))
        restored = restore(text, mapping)
        findings = OutputScreen(self._detector, canary, mapping.values()).findings(restored)
        action = Action.BLOCK if findings else Action.ALLOW
        if not findings and policy.scans_output_pii():
            scan = _AnswerScan(self, policy)
            findings, spans = OutputPii(policy, mapping).decide(restored, await scan(restored))
            if any(finding.action is Action.BLOCK for finding in findings):
                action = Action.BLOCK
            elif spans:
                action, restored = Action.SANITIZE, apply_spans(restored, spans)
            elif scan.unscanned:
                action = Action.NOT_SCANNED
        verdict = Verdict(action, findings, duration_ms=self._elapsed_ms(started))
        _log_verdict("output inspected", verdict)
        return OutputInspection(verdict, "" if action is Action.BLOCK else restored)

    async def inspect_output_stream(
        self, tenant_id: str, restore_handle: str, canary: str, chunks: AsyncIterator[str]
    ) -> AsyncIterator[StreamPiece]:
        """Yields restored text as it becomes safe; a violation ends the stream with PERMISSION_DENIED.

        Before that error comes a last piece with no text and the BLOCK verdict, so that a client learns why even
        when its gRPC library reports the end as something else: grpcio's asyncio client turns a status that ends
        a call while it is still writing into INTERNAL at times (grpc/grpc#36066).

        With output PII scanning on, text passes through a PiiWindow: it is released only once scanned,
        at most `hold_chars + step_chars` characters (plus one chunk) behind the model.
        """
        busy_seconds = 0.0
        started = self._clock()
        policy = self._policies.for_tenant(tenant_id)
        mapping = await self._vault_call(self._vault.load(tenant_id, restore_handle))
        stream = OutputStream(mapping, OutputScreen(self._detector, canary, mapping.values()))
        scan = _AnswerScan(self, policy)
        window = (
            PiiWindow(
                OutputPii(policy, mapping),
                scan,
                self._output_window,
                word_hold=not policy.output_needs_ner(),
            )
            if policy.scans_output_pii()
            else None
        )
        busy_seconds += self._clock() - started
        async for chunk in chunks:
            started = self._clock()
            release = await _through_window(stream.push(chunk), window)
            busy_seconds += self._clock() - started
            if release.findings:
                yield _block_piece(release.findings, busy_seconds)
                raise _stream_blocked(release.findings)
            if release.text:
                yield StreamPiece(release.text)
        started = self._clock()
        release = await _through_window(stream.finish(), window, final=True)
        busy_seconds += self._clock() - started
        if release.findings:
            yield _block_piece(release.findings, busy_seconds)
            raise _stream_blocked(release.findings)
        findings = window.findings if window else []
        action = Action.SANITIZE if findings else Action.NOT_SCANNED if scan.unscanned else Action.ALLOW
        verdict = Verdict(action, findings, duration_ms=busy_seconds * 1000)
        _log_verdict("output stream inspected", verdict)
        yield StreamPiece(release.text, verdict)

    async def _scan(self, texts: list[str], options: ScanOptions | None = None) -> list[TextScan]:
        try:
            # A timeout scope rather than `wait_for`, which would run the scan as another task (one more per call).
            async with asyncio.timeout(self._scan_timeout_seconds):
                return await (self._scanner.scan(texts) if options is None else self._scanner.scan(texts, options))
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


class _AnswerScan:
    """Finds entities in answer text through the guard's scanner; remembers a scan a fail-open tenant skipped."""

    def __init__(self, guard: Guard, policy: GuardPolicy) -> None:
        self._guard = guard
        self._policy = policy
        self._options = ScanOptions(injection=False, ner=policy.output_needs_ner())
        self.unscanned = False

    async def __call__(self, text: str) -> list[EntityHit]:
        try:
            return (await self._guard._scan([text], self._options))[0].entities
        except ServiceError:
            if not self._policy.fail_open:
                raise
            self.unscanned = True
            return []


async def _through_window(release: Release, window: PiiWindow | None, final: bool = False) -> Release:
    """Passes text the canary and credential screen released through the PII window, if there is one."""
    if release.findings or window is None:
        return release
    scanned = await window.push(release.text)
    if final and not scanned.findings:
        rest = await window.finish()
        return Release(scanned.text + rest.text, rest.findings)
    return scanned


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


def _judge_finding(injections: list[Finding], attack: bool) -> Finding:
    """The judge's verdict as a finding over the rules' strongest finding's span and category."""
    top = max(injections, key=lambda finding: finding.score)
    return dataclasses.replace(top, score=1.0 if attack else 0.0, action=Action.ALLOW, detector="llm_judge")


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


def _block_piece(findings: list[Finding], busy_seconds: float) -> StreamPiece:
    verdict = Verdict(Action.BLOCK, findings, duration_ms=busy_seconds * 1000)
    _log_verdict("output stream blocked", verdict)
    return StreamPiece("", verdict)


def _stream_blocked(findings: list[Finding]) -> ServiceError:
    canary = any(finding.kind is Kind.CANARY_LEAK for finding in findings)
    secret = any(finding.kind is Kind.SECRET for finding in findings)
    return denied(
        grpc.StatusCode.PERMISSION_DENIED,
        errors_pb2.ERROR_REASON_CANARY_LEAK if canary else errors_pb2.ERROR_REASON_OUTPUT_BLOCKED,
        "the answer leaked the system prompt's canary"
        if canary
        else "the answer contains a credential"
        if secret
        else "the answer contains personal data the policy blocks",
        {"categories": ",".join(sorted({finding.category for finding in findings}))},
    )


def _log_verdict(event: str, verdict: Verdict) -> None:
    """Logs counts and categories only: never text, values or spans' contents.

    A clean pass (ALLOW, no findings: most calls) is logged at debug only, sparing every call a second JSON line
    (and write) that would add nothing to the call's access log line.
    """
    clean = verdict.action is Action.ALLOW and not verdict.findings
    (log.debug if clean else log.info)(
        event,
        action=verdict.action.value,
        findings=len(verdict.findings),
        categories=sorted({finding.category for finding in verdict.findings}),
        injection_score=round(verdict.injection_score, 3),
        duration_ms=round(verdict.duration_ms, 3),
    )
