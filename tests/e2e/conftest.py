"""The e2e tier: the whole stack started the way `make up` starts it, called through Envoy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sluicegate.devstack.stack import Stack, StackConfig


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the e2e session: Redis, the mock upstream, the six services and Envoy, on free ports."""
    stack = Stack(StackConfig(run_dir=tmp_path_factory.mktemp("stack"), gateway_port=0, use_mock_upstream=True))
    stack.start()
    yield stack
    stack.stop()
