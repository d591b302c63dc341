"""Routing policies: how the capable deployments of a call's chain are ranked, with a score and a reason each."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from sluicegate.catalog import Deployment
from sluicegate_router.health import DeploymentHealth

TIER_MAP = "tier_map"
CHEAPEST = "cheapest"
LOWEST_LATENCY = "lowest_latency"
WEIGHTED = "weighted"
PolicyName = Literal["tier_map", "cheapest", "lowest_latency", "weighted"]
POLICIES: tuple[str, ...] = get_args(PolicyName)

# In the latency score, the share of the smoothed time to first token (the rest is the smoothed total latency):
# a streaming user waits for the first token, a plain one for the whole answer.
_TTFT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Candidate:
    """One deployment of one logical model, as a step of the fallback chain."""

    model: str
    deployment: Deployment


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate as a policy ranked it: its score (the policy's unit, lower is better except for `weighted`)
    and why it stands where it does."""

    candidate: Candidate
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class CallSize:
    """What a policy needs to know of the call: its tokens, for the cost estimate."""

    prompt_tokens: int
    completion_tokens: int


class Ranker:
    """Orders a chain's capable candidates by a policy. The candidates arrive in the catalog's order (the model,
    its fallbacks, the last resort; each model's deployments drawn by weight), which `tier_map` keeps."""

    def __init__(self, health: DeploymentHealth, rng: random.Random) -> None:
        self._health = health
        self._rng = rng

    def rank(self, policy: str, candidates: Sequence[Candidate], size: CallSize) -> list[Ranked]:
        if policy == CHEAPEST:
            return self._cheapest(candidates, size)
        if policy == LOWEST_LATENCY:
            return self._lowest_latency(candidates)
        if policy == WEIGHTED:
            return self._weighted(candidates)
        return [
            Ranked(c, float(rank), f"step {rank + 1} of the catalog's chain (the model, then its fallbacks)")
            for rank, c in enumerate(candidates)
        ]

    def _cheapest(self, candidates: Sequence[Candidate], size: CallSize) -> list[Ranked]:
        costs = [c.deployment.price.cost_micros(size.prompt_tokens, size.completion_tokens) for c in candidates]
        order = sorted(range(len(candidates)), key=costs.__getitem__)
        return [
            Ranked(
                candidates[i],
                float(costs[i]),
                f"estimated {costs[i]} micro-USD for about {size.prompt_tokens} prompt and "
                f"{size.completion_tokens} completion tokens",
            )
            for i in order
        ]

    def _lowest_latency(self, candidates: Sequence[Candidate]) -> list[Ranked]:
        scored = [(c, self._latency_score(c.deployment.name)) for c in candidates]
        if len(scored) < 2:
            return [Ranked(c, score or 0.0, _latency_reason(score)) for c, score in scored]
        # Power of two choices: the better of two drawn at random leads. Always taking the single fastest would
        # send it every call at once and make it slow; two random choices spread load yet avoid slow deployments.
        first, second = self._rng.sample(range(len(scored)), 2)
        lead = min((first, second), key=lambda i: _sortable(scored[i][1]))
        rest = sorted((i for i in range(len(scored)) if i != lead), key=lambda i: _sortable(scored[i][1]))
        ranked = []
        for position, index in enumerate([lead, *rest]):
            candidate, score = scored[index]
            reason = _latency_reason(score)
            if position == 0:
                other = second if index == first else first
                reason += f"; the faster of two drawn at random (with {scored[other][0].deployment.name})"
            ranked.append(Ranked(candidate, score or 0.0, reason))
        return ranked

    def _weighted(self, candidates: Sequence[Candidate]) -> list[Ranked]:
        total = sum(c.deployment.weight for c in candidates)
        # Efraimidis-Spirakis across the whole chain: each candidate leads with a probability proportional to
        # its weight.
        drawn = sorted(candidates, key=lambda c: self._rng.random() ** (1.0 / c.deployment.weight), reverse=True)
        return [
            Ranked(c, c.deployment.weight / total, f"weight {c.deployment.weight:g} of {total:g}, drawn in proportion")
            for c in drawn
        ]

    def _latency_score(self, deployment: str) -> float | None:
        stats = self._health.stats(deployment)
        if stats.successes == 0:
            return None
        if stats.streams == 0:
            return stats.ewma_latency_ms
        return _TTFT_SHARE * stats.ewma_ttft_ms + (1 - _TTFT_SHARE) * stats.ewma_latency_ms


def _sortable(score: float | None) -> float:
    # An unmeasured deployment sorts first: one call measures it, so no deployment stays unknown for ever.
    return -1.0 if score is None else score


def _latency_reason(score: float | None) -> str:
    if score is None:
        return "no latency measured yet (tried first to measure it)"
    return f"smoothed latency {score:.1f} ms (time to first token and total)"
