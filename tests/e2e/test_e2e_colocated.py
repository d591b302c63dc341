"""The co-located topology (`StackConfig.colocated`): two processes, each hosting the orchestrator, router, guard,
cache and metering, behind Envoy, with the observer apart. Every behaviour of the gateway's e2e suite holds here
too (the same tests run against this stack), and requests spread over both processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_e2e_gateway import (  # noqa: F401 - re-run here against the co-located stack
    client,
    test_a_paraphrase_is_served_from_the_semantic_cache_but_never_to_another_tenant,
    test_a_stream_cut_mid_answer_continues_on_the_fallback_when_the_request_allows_it,
    test_bad_input_gets_invalid_argument_naming_the_field,
    test_cancelling_a_stream_cancels_the_provider_call,
    test_chat_stream_through_envoy,
    test_chat_through_envoy_returns_answer_and_decision_record,
    test_every_service_reports_serving,
    test_internal_services_are_not_reachable_through_envoy,
    test_oversize_prompt_is_rejected,
    test_pii_is_pseudonymised_for_the_provider_and_restored_for_the_client,
    test_prompt_injection_is_blocked,
    test_repeated_question_is_served_from_the_cache,
    test_services_stay_healthy_after_bad_input,
    test_the_callers_trace_context_reaches_every_hop,
    test_unknown_key_and_unknown_model,
)

from sluicegate.client import GatewayClient
from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.stack import COLOCATED, Stack, StackConfig


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        StackConfig(run_dir=tmp_path_factory.mktemp("colocated"), gateway_port=0, use_mock_upstream=True, colocated=2)
    )
    stack.start()
    yield stack
    stack.stop()


def _rpc_lines(stack: Stack, index: int) -> list[dict]:
    lines = stack.processes[COLOCATED][index].log_records()
    return [line for line in lines if line.get("event") == "rpc" and "grpc.health" not in line.get("method", "")]


def test_requests_spread_over_both_processes_and_each_calls_its_own_services_in_process(stack: Stack) -> None:
    gateway = GatewayClient(stack.gateway_address, stack.api_key, timeout_seconds=30)
    try:
        for n in range(12):
            response = gateway.chat(f"Name a colour ({n})", cache=chat_pb2.CacheControl(no_cache=True))
            assert f"({n})" in "".join(part.text for part in response.message.content)
    finally:
        gateway.close()
    for index in (0, 1):
        methods = {line["method"] for line in _rpc_lines(stack, index)}
        # Each process served gateway calls from Envoy and, in-process, the calls they made to its services.
        assert "/sluicegate.gateway.v1.GatewayService/Chat" in methods, index
        assert "/sluicegate.router.v1.RouterService/Complete" in methods, index
        assert "/sluicegate.metering.v1.MeteringService/Authorize" in methods, index
