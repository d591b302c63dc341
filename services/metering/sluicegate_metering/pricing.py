"""Prices from the shared catalog: worst-case quotes before a call, exact costs after it."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from sluicegate.catalog import Catalog, LogicalModel
from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import denied
from sluicegate_metering.records import Principal, UsageCharge


@dataclass(frozen=True)
class Quote:
    """The most a call to a logical model can cost."""

    model: str
    amount_micros: int


class Pricer:
    """Prices calls with the catalog the router uses, so metering and routing always agree."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def _model(self, name: str) -> LogicalModel:
        model = self._catalog.model(name)
        if model is None:
            raise denied(grpc.StatusCode.NOT_FOUND, errors_pb2.ERROR_REASON_MODEL_UNKNOWN, f"unknown model {name!r}")
        return model

    def quote(self, model_name: str, prompt_tokens: int, max_tokens: int) -> Quote:
        """Prompt and output tokens at the dearest deployment's prices; no max_tokens means the smallest
        output limit among the deployments (no deployment can produce more than its own limit)."""
        output_tokens = self.output_tokens(model_name, max_tokens)
        price = self._catalog.worst_case_price(model_name)
        return Quote(model_name, price.cost_micros(prompt_tokens, output_tokens))

    def output_tokens(self, model_name: str, max_tokens: int) -> int:
        """The most output tokens a call may produce: max_tokens, or else the smallest deployment limit."""
        model = self._model(model_name)
        return max_tokens or min(d.capabilities.max_output_tokens for d in model.deployments)

    def cheapest_alternative(
        self, principal: Principal, requested: Quote, prompt_tokens: int, max_tokens: int
    ) -> Quote | None:
        """The logical model the principal may use that can serve the call and costs least at worst, if it
        is cheaper than the requested one: the downgrade most likely to fit a short budget."""
        candidates = [
            self.quote(name, prompt_tokens, max_tokens)
            for name, model in self._catalog.models.items()
            if name != requested.model and principal.may_use(name) and _capable(model, prompt_tokens, max_tokens)
        ]
        cheaper = [quote for quote in candidates if quote.amount_micros < requested.amount_micros]
        return min(cheaper, key=lambda quote: (quote.amount_micros, quote.model), default=None)

    def cost(self, charge: UsageCharge, fallback_model: str) -> int:
        """The charge at its deployment's price (cached and reasoning tokens at their own rates); an unknown
        deployment is priced at its model's worst case, so a stale catalog never under-charges."""
        found = self._catalog.deployment(charge.deployment)
        if found is not None:
            price = found[1].price
        else:
            model_name = charge.model if self._catalog.model(charge.model) is not None else fallback_model
            self._model(model_name)  # MODEL_UNKNOWN when the catalog knows neither model
            price = self._catalog.worst_case_price(model_name)
        return price.cost_micros(
            charge.prompt_tokens, charge.completion_tokens, charge.cached_prompt_tokens, charge.reasoning_tokens
        )


def _capable(model: LogicalModel, prompt_tokens: int, max_tokens: int) -> bool:
    return any(
        max_tokens <= d.capabilities.max_output_tokens and prompt_tokens + max_tokens < d.capabilities.context_window
        for d in model.deployments
    )
