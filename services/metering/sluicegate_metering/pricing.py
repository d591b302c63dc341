"""Prices from the shared catalog: worst-case quotes before a call, exact costs after it."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from sluicegate.catalog import Catalog, CatalogError, Deployment, LogicalModel, Price
from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import denied
from sluicegate_metering.records import Principal, UsageCharge

# The dearest rate metering accepts, in micro-USD per million tokens ($1M per million tokens): a call of the
# most tokens a request may count (validation.MAX_TOKENS_PER_CALL) then costs at most 2 x 10^14 micro-USD,
# an exact integer in the Lua scripts' doubles with room to spare.
MAX_MICROS_PER_MTOK = 10**12


@dataclass(frozen=True)
class Quote:
    """The most a call to a logical model can cost."""

    model: str
    amount_micros: int


class Pricer:
    """Prices calls with the catalog the router uses, so metering and routing always agree. The catalog is
    fixed for the process's life, so each model's worst case and each deployment are looked up once."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._worst_prices = {name: catalog.worst_case_price(name) for name in catalog.models}
        self._output_limits = {
            name: min(d.capabilities.max_output_tokens for d in model.deployments)
            for name, model in catalog.models.items()
        }
        self._deployments: dict[str, Deployment] = {}
        for model in catalog.models.values():
            for deployment in model.deployments:
                _check_rates(deployment)
                self._deployments.setdefault(deployment.name, deployment)

    def quote(self, model_name: str, prompt_tokens: int, max_tokens: int) -> Quote:
        """Prompt and output tokens at the dearest deployment's prices; no max_tokens means the smallest
        output limit among the deployments (no deployment can produce more than its own limit)."""
        output_tokens = self.output_tokens(model_name, max_tokens)
        return Quote(model_name, self._worst_prices[model_name].cost_micros(prompt_tokens, output_tokens))

    def output_tokens(self, model_name: str, max_tokens: int) -> int:
        """The most output tokens a call may produce: max_tokens, or else the smallest deployment limit."""
        limit = self._output_limits.get(model_name)
        if limit is None:
            raise _unknown_model(model_name)
        return max_tokens or limit

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
        deployment = self._deployments.get(charge.deployment)
        price: Price
        if deployment is not None:
            price = deployment.price
        else:
            model_name = charge.model if charge.model in self._worst_prices else fallback_model
            if model_name not in self._worst_prices:
                raise _unknown_model(model_name)
            price = self._worst_prices[model_name]
        return price.cost_micros(
            charge.prompt_tokens, charge.completion_tokens, charge.cached_prompt_tokens, charge.reasoning_tokens
        )


def _unknown_model(name: str) -> Exception:
    return denied(grpc.StatusCode.NOT_FOUND, errors_pb2.ERROR_REASON_MODEL_UNKNOWN, f"unknown model {name!r}")


def _capable(model: LogicalModel, prompt_tokens: int, max_tokens: int) -> bool:
    return any(
        max_tokens <= d.capabilities.max_output_tokens and prompt_tokens + max_tokens < d.capabilities.context_window
        for d in model.deployments
    )


def _check_rates(deployment: Deployment) -> None:
    price = deployment.price
    rates = (
        price.input_micros_per_mtok,
        price.output_micros_per_mtok,
        price.cached_input_micros_per_mtok,
        price.reasoning_micros_per_mtok,
    )
    if max(rates) > MAX_MICROS_PER_MTOK:
        raise CatalogError(
            f"deployment {deployment.name!r}: metering accepts prices up to "
            f"{MAX_MICROS_PER_MTOK // 1_000_000:,} USD per million tokens"
        )
