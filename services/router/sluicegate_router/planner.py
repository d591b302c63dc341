"""Choosing where a call goes: the logical model (by tier or by name), the key's allowlist, hard filters, the chain."""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass

import grpc

from sluicegate.catalog import Catalog, Deployment
from sluicegate.common.v1 import chat_pb2, decision_pb2, errors_pb2
from sluicegate.convert import estimate_prompt_tokens, last_user_text
from sluicegate.router.v1 import router_pb2
from sluicegate.runtime.errors import ServiceError, denied, invalid_argument
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.policies import TIER_MAP, CallSize, Candidate, Ranked, Ranker

AUTO_MODELS = frozenset({"", "auto"})

TIER_NAMES = {
    chat_pb2.TASK_COMPLEXITY_SIMPLE: "simple",
    chat_pb2.TASK_COMPLEXITY_MEDIUM: "medium",
    chat_pb2.TASK_COMPLEXITY_COMPLEX: "complex",
    chat_pb2.TASK_COMPLEXITY_CREATIVE: "creative",
}
COMPLEXITY_OF_TIER = {name: complexity for complexity, name in TIER_NAMES.items()}

_JSON_FORMATS = frozenset({chat_pb2.RESPONSE_FORMAT_JSON_OBJECT, chat_pb2.RESPONSE_FORMAT_JSON_SCHEMA})

# How many excluded deployments an error message names; the rest are counted.
_NAMED_IN_ERRORS = 4


class Unmet(enum.Enum):
    """Why a deployment cannot take a call."""

    NOT_ALLOWED = "not allowed"
    REGION = "region"
    CONTEXT_WINDOW = "context window"
    MAX_OUTPUT = "max output"
    TOOLS = "tools"
    VISION = "vision"
    JSON_MODE = "json mode"


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """A call's route: the decision to report and the capable deployments to try, best first."""

    decision: decision_pb2.RouteDecision
    chain: tuple[Candidate, ...]
    prompt_tokens: int
    ranking: tuple[Ranked, ...]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a call needs from a deployment; the router's hard filters."""

    prompt_tokens: int
    max_tokens: int
    region: str
    tools: bool
    vision: bool
    json_mode: bool

    @classmethod
    def of(cls, call: router_pb2.ModelCall) -> Requirements:
        params = call.params
        return cls(
            prompt_tokens=estimate_prompt_tokens(call.messages),
            max_tokens=params.max_tokens,
            region=call.region,
            tools=len(params.tools) > 0,
            vision=any(part.WhichOneof("part") == "image_url" for m in call.messages for part in m.content),
            json_mode=params.response_format in _JSON_FORMATS,
        )

    def unmet(self, deployment: Deployment) -> tuple[Unmet, str] | None:
        """The first requirement the deployment misses, with a short explanation; None when it can serve."""
        capabilities = deployment.capabilities
        needed_window = self.prompt_tokens + self.max_tokens
        if self.region and deployment.region != self.region:
            return Unmet.REGION, f"in region {deployment.region!r}, the call is pinned to {self.region!r}"
        if needed_window > capabilities.context_window:
            return Unmet.CONTEXT_WINDOW, (
                f"context window {capabilities.context_window} tokens is below the about {self.prompt_tokens} "
                f"prompt tokens plus {self.max_tokens} max_tokens"
            )
        if self.max_tokens > capabilities.max_output_tokens:
            return Unmet.MAX_OUTPUT, f"answers at most {capabilities.max_output_tokens} tokens"
        if self.tools and not capabilities.tools:
            return Unmet.TOOLS, "cannot call tools"
        if self.vision and not capabilities.vision:
            return Unmet.VISION, "cannot read images"
        if self.json_mode and not capabilities.json_mode:
            return Unmet.JSON_MODE, "has no JSON mode"
        return None


@dataclass(frozen=True, slots=True)
class _Exclusion:
    candidate: Candidate
    unmet: Unmet
    reason: str


class RoutePlanner:
    """Turns a call into a RoutePlan; raises ServiceError when the call cannot be routed at all."""

    def __init__(
        self,
        catalog: Catalog,
        classifier: KeywordClassifier,
        rng: random.Random,
        ranker: Ranker,
        default_policy: str = TIER_MAP,
        completion_tokens_estimate: int = 256,
        tenant_policies: Mapping[str, str] | None = None,
    ) -> None:
        self._catalog = catalog
        self._classifier = classifier
        self._rng = rng
        self._ranker = ranker
        self._default_policy = default_policy
        self._completion_tokens_estimate = completion_tokens_estimate
        self._tenant_policies = dict(tenant_policies or {})

    def replace_catalog(self, catalog: Catalog) -> None:
        """Plans made from now on use the new catalog; plans already made keep the deployments they chose."""
        self._catalog = catalog

    def plan(self, call: router_pb2.ModelCall, classified: tuple[int, str] | None = None) -> RoutePlan:
        """`classified` is the (complexity, source) the caller already found for an auto-routed call; without it
        the keyword rules classify."""
        requested = call.model
        ranking_policy = call.policy or self._tenant_policies.get(call.principal.tenant_id) or self._default_policy
        if requested in AUTO_MODELS:
            complexity, source = classified or self._complexity(call)
            tier = TIER_NAMES[complexity]
            model = self._catalog.tiers[tier]
            policy = ranking_policy
            why = f"the prompt is {tier} (by {source}) and the {tier} tier maps to {model}"
        else:
            if self._catalog.model(requested) is None:
                raise denied(
                    grpc.StatusCode.NOT_FOUND,
                    errors_pb2.ERROR_REASON_MODEL_UNKNOWN,
                    f"the catalog has no model {requested!r}",
                    {"model": requested},
                )
            model = requested
            policy = "explicit" if ranking_policy == TIER_MAP else ranking_policy
            complexity, source = (
                (call.complexity_hint, "hint") if call.complexity_hint else (chat_pb2.TASK_COMPLEXITY_UNSPECIFIED, "")
            )
            why = f"{model} was asked for by name"
        allowed = frozenset(call.principal.allowed_models)
        if allowed and model not in allowed:
            raise denied(
                grpc.StatusCode.PERMISSION_DENIED,
                errors_pb2.ERROR_REASON_MODEL_NOT_ALLOWED,
                f"this API key may not use the model {model!r}",
                {"model": model},
            )
        needs = Requirements.of(call)
        eligible, excluded = self._filter(model, needs, allowed)
        if not eligible:
            raise _nothing_capable(model, needs, excluded)
        ranking = self._rank(ranking_policy, model, eligible, needs)
        chosen = ranking[0].candidate
        if ranking_policy != TIER_MAP:
            reason = f"{why}; by {ranking_policy}, {chosen.deployment.name} ({chosen.model}) ranks first: {ranking[0].reason}."
        elif chosen.model == model:
            reason = f"{why}; {chosen.deployment.name} is its first capable deployment."
        else:
            reason = f"{why}, but none of its deployments can take this call, so its fallback {chosen.model} serves it."
        decision = decision_pb2.RouteDecision(
            requested_model=requested,
            model=chosen.model,
            deployment=chosen.deployment.name,
            provider=chosen.deployment.provider,
            complexity=complexity,
            complexity_source=source,
            policy=policy,
            reason=reason,
            alternatives=[
                *(
                    decision_pb2.RouteCandidate(
                        model=r.candidate.model, deployment=r.candidate.deployment.name, score=r.score
                    )
                    for r in ranking[1:]
                ),
                *(
                    decision_pb2.RouteCandidate(
                        model=e.candidate.model, deployment=e.candidate.deployment.name, excluded_reason=e.reason
                    )
                    for e in excluded
                ),
            ],
        )
        return RoutePlan(
            decision=decision,
            chain=tuple(r.candidate for r in ranking),
            prompt_tokens=needs.prompt_tokens,
            ranking=tuple(ranking),
        )

    def _rank(self, policy: str, model: str, eligible: list[Candidate], needs: Requirements) -> list[Ranked]:
        """The policy ranks the model and its fallbacks; the last resort stays last, for emergencies only (a
        cost policy would otherwise always choose it)."""
        last_resort = self._catalog.last_resort
        is_tail = [c.model == last_resort and c.model != model for c in eligible]
        ranked = [c for c, tail in zip(eligible, is_tail, strict=True) if not tail]
        size = CallSize(needs.prompt_tokens, needs.max_tokens or self._completion_tokens_estimate)
        ranking = self._ranker.rank(policy, ranked, size) if ranked else []
        tail = [c for c, tail in zip(eligible, is_tail, strict=True) if tail]
        return [
            *ranking,
            *(
                Ranked(c, float(len(ranking) + i), "the catalog's last resort, after every other")
                for i, c in enumerate(tail)
            ),
        ]

    def _complexity(self, call: router_pb2.ModelCall) -> tuple[int, str]:
        if call.complexity_hint:
            return call.complexity_hint, "hint"
        return self._classifier.classify(last_user_text(call.messages)), "rules"

    def _filter(
        self, model: str, needs: Requirements, allowed: frozenset[str]
    ) -> tuple[list[Candidate], list[_Exclusion]]:
        eligible: list[Candidate] = []
        excluded: list[_Exclusion] = []
        for model_name in self._catalog.fallback_chain(model):
            for deployment in self._ordered(model_name):
                candidate = Candidate(model_name, deployment)
                if allowed and model_name not in allowed:
                    unmet: tuple[Unmet, str] | None = (Unmet.NOT_ALLOWED, "this API key may not use the model")
                else:
                    unmet = needs.unmet(deployment)
                if unmet is None:
                    eligible.append(candidate)
                else:
                    excluded.append(_Exclusion(candidate, *unmet))
        return eligible, excluded

    def _ordered(self, model_name: str) -> list[Deployment]:
        deployments = self._catalog.models[model_name].deployments
        if len(deployments) == 1:
            return deployments
        # Efraimidis-Spirakis: sorting by u ** (1 / weight) draws an order in which each deployment comes
        # first with a probability proportional to its weight, so traffic spreads by weight.
        return sorted(deployments, key=lambda d: self._rng.random() ** (1.0 / d.weight), reverse=True)


def _nothing_capable(model: str, needs: Requirements, excluded: list[_Exclusion]) -> ServiceError:
    """CONTEXT_WINDOW_EXCEEDED when only the window ruled the deployments out, else NO_CAPABLE_DEPLOYMENT."""
    capability_misses = [e for e in excluded if e.unmet is not Unmet.NOT_ALLOWED]
    if capability_misses and all(e.unmet is Unmet.CONTEXT_WINDOW for e in capability_misses):
        largest = max(e.candidate.deployment.capabilities.context_window for e in capability_misses)
        return invalid_argument(
            {
                "call.messages": (
                    f"about {needs.prompt_tokens} prompt tokens plus {needs.max_tokens} max_tokens exceed the "
                    f"context window of every deployment of {model} and its fallbacks (the largest is {largest})"
                )
            },
            reason=errors_pb2.ERROR_REASON_CONTEXT_WINDOW_EXCEEDED,
        )
    named = "; ".join(f"{e.candidate.deployment.name} {e.reason}" for e in excluded[:_NAMED_IN_ERRORS])
    more = f"; and {len(excluded) - _NAMED_IN_ERRORS} more" if len(excluded) > _NAMED_IN_ERRORS else ""
    return denied(
        grpc.StatusCode.FAILED_PRECONDITION,
        errors_pb2.ERROR_REASON_NO_CAPABLE_DEPLOYMENT,
        f"no deployment of {model} or its fallbacks can take this call: {named}{more}",
        {"model": model},
    )
