"""One channel per downstream service, created at start-up, and the stubs the pipeline calls through them."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from sluicegate.cache.v1 import cache_pb2_grpc
from sluicegate.guard.v1 import guard_pb2_grpc
from sluicegate.metering.v1 import metering_pb2_grpc
from sluicegate.observer.v1 import observer_pb2_grpc
from sluicegate.router.v1 import router_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate_orchestrator.settings import OrchestratorSettings


@dataclass
class Downstreams:
    """The stubs of every service the orchestrator calls."""

    router: router_pb2_grpc.RouterServiceStub
    guard: guard_pb2_grpc.GuardServiceStub
    cache: cache_pb2_grpc.CacheServiceStub
    metering: metering_pb2_grpc.MeteringServiceStub
    observer: observer_pb2_grpc.ObserverServiceStub
    channels: tuple[grpc.aio.Channel, ...] = ()

    @classmethod
    def connect(cls, settings: OrchestratorSettings) -> Downstreams:
        control = settings.control_timeout_seconds
        router = create_channel(
            settings.router_addr, ["sluicegate.router.v1.RouterService"], settings.request_timeout_seconds
        )
        guard = create_channel(settings.guard_addr, ["sluicegate.guard.v1.GuardService"], control)
        cache = create_channel(settings.cache_addr, ["sluicegate.cache.v1.CacheService"], control, retry=False)
        metering = create_channel(settings.metering_addr, ["sluicegate.metering.v1.MeteringService"], control)
        observer = create_channel(
            settings.observer_addr, ["sluicegate.observer.v1.ObserverService"], control, retry=False
        )
        return cls(
            router=router_pb2_grpc.RouterServiceStub(router),
            guard=guard_pb2_grpc.GuardServiceStub(guard),
            cache=cache_pb2_grpc.CacheServiceStub(cache),
            metering=metering_pb2_grpc.MeteringServiceStub(metering),
            observer=observer_pb2_grpc.ObserverServiceStub(observer),
            channels=(router, guard, cache, metering, observer),
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
