"""Client channels to downstream services: one per service, retries only on UNAVAILABLE, a deadline on every call."""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc

from sluicegate.runtime.inprocess import LOCAL_SERVICES, RetryPolicy
from sluicegate.runtime.interceptors import PropagatingChannel

# Over the network in the channel's service config; in-process by the local channel (unary calls).
UNAVAILABLE_RETRY = RetryPolicy()


def service_config(service_names: Sequence[str], retry: bool = True) -> str:
    """A gRPC service config that, when `retry`, retries on UNAVAILABLE only.

    It sets no `timeout`: grpcio 1.85 enforces a service-config timeout several times too early (2 s expired
    after 0.375 s here, even under a longer call deadline), so the default deadline is applied per call by the
    channel's wrapper (PropagatingChannel) instead.
    """
    method_config: dict = {"name": [{"service": name} for name in service_names]}
    if retry:
        method_config["retryPolicy"] = {
            "maxAttempts": UNAVAILABLE_RETRY.max_attempts,
            "initialBackoff": f"{UNAVAILABLE_RETRY.initial_backoff_seconds}s",
            "maxBackoff": f"{UNAVAILABLE_RETRY.max_backoff_seconds}s",
            "backoffMultiplier": UNAVAILABLE_RETRY.backoff_multiplier,
            "retryableStatusCodes": ["UNAVAILABLE"],
        }
    return json.dumps({"methodConfig": [method_config]})


def create_channel(
    address: str,
    service_names: Sequence[str],
    default_timeout_seconds: float = 10.0,
    max_message_bytes: int = 16 * 1024 * 1024,
    retry: bool = True,
) -> PropagatingChannel:
    """An insecure channel (loopback or service mesh) with round-robin over every address the name resolves to.

    When this process hosts every one of `service_names` (a co-located deployment), the channel calls them
    in-process instead, whatever `address` says.
    """
    if LOCAL_SERVICES.hosts(service_names):
        local = LOCAL_SERVICES.channel(UNAVAILABLE_RETRY if retry else None, max_message_bytes)
        return PropagatingChannel(local, default_timeout_seconds)
    options = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.enable_retries", 1 if retry else 0),
        ("grpc.keepalive_time_ms", 30_000),
        # A restarted service is found again within seconds, not after gRPC's default two-minute back-off cap.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2_000),
        ("grpc.service_config", service_config(service_names, retry)),
    ]
    return PropagatingChannel(grpc.aio.insecure_channel(address, options=options), default_timeout_seconds)
