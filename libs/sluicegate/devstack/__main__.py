"""`python -m sluicegate.devstack up`: start the whole stack locally and keep it running until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from sluicegate.devstack.stack import REPO_ROOT, Stack, StackConfig


def _replicas(values: list[str]) -> dict[str, int]:
    replicas: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"--replicas expects name=N, got {value!r}")
        replicas[name] = int(count)
    return replicas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sluicegate.devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Redis, the services and Envoy; Ctrl-C stops everything")
    up.add_argument("--port", type=int, default=8080, help="Envoy's public port")
    up.add_argument("--replicas", nargs="*", default=[], metavar="SERVICE=N", help="for example router=3 guard=2")
    up.add_argument("--run-dir", type=Path, default=REPO_ROOT / ".run")
    up.add_argument("--api-key", default="", help="the demo tenant's API key (default: a new random key)")
    up.add_argument(
        "--colocated",
        type=int,
        default=0,
        metavar="N",
        help="run N co-located processes (orchestrator, router, guard, cache, metering; see sluicegate.colocated) "
        "instead of one process per service",
    )
    args = parser.parse_args(argv)

    try:
        stack = Stack(
            StackConfig(
                run_dir=args.run_dir,
                gateway_port=args.port,
                replicas=_replicas(args.replicas),
                api_key=args.api_key,
                colocated=args.colocated,
            )
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    services = f"{args.colocated} co-located processes and the observer" if args.colocated else "6 services"
    sys.stderr.write(f"starting sluicegate (Redis, mock upstream, {services}, Envoy)...\n")
    stack.start()
    upstream = f"mock upstream at {stack.mock.address}" if stack.mock else "real providers from deploy/catalog"
    sys.stdout.write(
        f"""
sluicegate is up on {stack.gateway_address} (gRPC, via Envoy; {upstream}).

  demo API key   {stack.api_key}
  admin token    {stack.admin_token}
  metrics        {stack.metrics_url}
  logs           {stack.log_dir}/

Try it:
  .venv/bin/python -m sluicegate.client --address {stack.gateway_address} --api-key {stack.api_key} "Summarize why caching saves money"
  .venv/bin/python -m sluicegate.client --address {stack.gateway_address} --api-key {stack.api_key} --stream "Write a story about a sluice gate"
  node clients/node/sluicegate-client.js --address {stack.gateway_address} --api-key {stack.api_key} "Hello from Node"

Ctrl-C stops everything.
"""
    )
    sys.stdout.flush()
    try:
        stop.wait()
    finally:
        sys.stderr.write("stopping...\n")
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
