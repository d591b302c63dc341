"""The provider switch: OpenAI-compatible deployments go to the lean client, the others to litellm, which loads
only once a deployment needs it."""

from __future__ import annotations

import asyncio

from sluicegate.catalog import Deployment, Price
from sluicegate_router.openai_http import is_openai_compatible
from sluicegate_router.provider import ProviderAnswer, ProviderRequest, ProviderSwitch

PRICE = Price(input_per_mtok_usd=1, output_per_mtok_usd=1)
MOCK = Deployment(name="mock", litellm_model="openai/m", api_base="http://mock/v1", price=PRICE)
CLAUDE = Deployment(name="claude", litellm_model="anthropic/claude-x", price=PRICE)
REQUEST = ProviderRequest(messages=[{"role": "user", "content": "hi"}], params={})


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.called: list[str] = []

    async def complete(self, deployment: Deployment, request: ProviderRequest) -> ProviderAnswer:
        self.called.append(deployment.name)
        return ProviderAnswer(text=self.name, tool_calls=[], finish_reason="stop", usage=None)

    def classify(self, error: Exception):
        return None

    async def aclose(self) -> None:
        return None


def switch(deployments: list[Deployment]) -> tuple[ProviderSwitch, Recording, list[Recording]]:
    lean = Recording("lean")
    loaded: list[Recording] = []

    def load() -> Recording:
        loaded.append(Recording("litellm"))
        return loaded[-1]

    return ProviderSwitch(lean, lambda d: is_openai_compatible(d, ("openai",)), load, deployments), lean, loaded


async def test_a_catalog_of_openai_compatible_deployments_never_loads_litellm() -> None:
    provider, lean, loaded = switch([MOCK])

    assert await provider.ready()
    assert (await provider.complete(MOCK, REQUEST)).text == "lean"
    await asyncio.sleep(0.05)
    assert lean.called == ["mock"] and loaded == []


async def test_other_providers_go_to_litellm_which_loads_at_start_when_the_catalog_needs_it() -> None:
    provider, lean, loaded = switch([MOCK, CLAUDE])

    assert (await provider.complete(CLAUDE, REQUEST)).text == "litellm"
    assert await provider.ready()
    assert lean.called == [] and loaded[0].called == ["claude"]


async def test_a_reloaded_catalog_that_needs_litellm_starts_loading_it() -> None:
    provider, _, loaded = switch([MOCK])

    provider.prepare([MOCK, CLAUDE])
    while not await provider.ready():
        await asyncio.sleep(0.01)

    assert len(loaded) == 1
