"""Runs several sluicegate services in one process: `python -m sluicegate.colocated [SERVICE ...]`.

The same services, settings and protobuf contracts as when each runs alone; what changes is that calls between
the services hosted here stay in the process (see `sluicegate.runtime.inprocess`), and the process serves all
of their APIs on one port: the orchestrator's (`ORCHESTRATOR_HOST` / `ORCHESTRATOR_PORT`, with its grace period,
message limit and `ORCHESTRATOR_LOG_REQUESTS` for every service here). Each service still reads its own
settings (`ROUTER_*`, `CACHE_*`, ...); their ports are not used. Services left out are called over the network
at their configured addresses, so a deployment can co-locate some services and scale others apart.

Why: each hop between two Python gRPC processes costs about 0.6 ms of CPU and a wake-up of the other process;
a request crosses up to eight of them. Run one co-located process per core and let Envoy spread the calls.
By default every service but the observer is hosted here: the observer aggregates all replicas' traces, so
it runs once, apart.
"""

from __future__ import annotations

import argparse
import importlib

from sluicegate.runtime.server import ServiceSpec, run_colocated

# Dependencies first: each service is built after those it calls, so their in-process channels find them (the
# router reserves with metering, the guard's LLM judge asks the router, the orchestrator calls them all).
ORDER = ("metering", "router", "guard", "cache", "observer", "orchestrator")
DEFAULT_SERVICES = ("metering", "guard", "cache", "router", "orchestrator")
NAME = "colocated"


def service_spec(name: str) -> ServiceSpec:
    """The service as its own `python -m sluicegate_<name>` would start it."""
    return importlib.import_module(f"sluicegate_{name}.__main__").spec()


def ordered(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(ORDER))
    if unknown:
        raise ValueError(f"unknown services {unknown}; choose from {', '.join(ORDER)}")
    if "orchestrator" not in names:
        raise ValueError("a co-located process serves the orchestrator's port: include the orchestrator")
    return [name for name in ORDER if name in names]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.colocated", description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="*", default=list(DEFAULT_SERVICES), help=f"from {', '.join(ORDER)}")
    args = parser.parse_args(argv)
    try:
        names = ordered(args.services)
    except ValueError as exc:
        parser.error(str(exc))
    specs = [service_spec(name) for name in names]
    front = next(spec for spec in specs if spec.name == "orchestrator")
    run_colocated(NAME, front.settings, specs)


if __name__ == "__main__":
    main()
