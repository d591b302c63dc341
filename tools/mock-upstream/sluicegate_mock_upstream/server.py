"""Command line entry point: read settings once, serve the mock upstream, stop gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import create_app
from .behaviour import BehaviourError, load_behaviours_file

logger = logging.getLogger("sluicegate_mock_upstream")

DEFAULT_PORT = 8900


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs, read once at start-up from flags and MOCK_UPSTREAM_* variables."""

    host: str
    port: int
    behaviours_path: Path | None
    required_api_key: str | None
    seed: int | None
    access_log: bool
    shutdown_grace_seconds: float
    log_level: str


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {port}")
    return port


def parse_settings(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from command line flags, falling back to MOCK_UPSTREAM_* environment variables."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="sluicegate-mock-upstream",
        description="OpenAI-compatible mock LLM upstream with scriptable delays and failures.",
    )
    parser.add_argument("--host", default=env.get("MOCK_UPSTREAM_HOST", "127.0.0.1"), help="address to bind")
    parser.add_argument(
        "--port",
        type=_port,
        default=env.get("MOCK_UPSTREAM_PORT", str(DEFAULT_PORT)),
        help=f"port to bind; 0 picks a free one (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--behaviours",
        type=Path,
        default=env.get("MOCK_UPSTREAM_BEHAVIOURS") or None,
        help="JSON or YAML file mapping model name (or '*') to a behaviour",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=env.get("MOCK_UPSTREAM_SEED") or None,
        help="seed for error_rate draws, for repeatable runs",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        default=env.get("MOCK_UPSTREAM_ACCESS_LOG", "") not in {"", "0", "false"},
        help="log one line per request (off by default: the mock sits under latency benchmarks)",
    )
    parser.add_argument(
        "--shutdown-grace-seconds",
        type=float,
        default=float(env.get("MOCK_UPSTREAM_SHUTDOWN_GRACE_SECONDS", "2")),
        help="how long in-flight requests may finish after SIGTERM",
    )
    parser.add_argument("--log-level", default=env.get("MOCK_UPSTREAM_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    return Settings(
        host=args.host,
        port=args.port,
        behaviours_path=args.behaviours,
        # Only from the environment, so the key does not show in the process list.
        required_api_key=env.get("MOCK_UPSTREAM_REQUIRE_KEY") or None,
        seed=args.seed,
        access_log=args.access_log,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
        log_level=args.log_level.upper(),
    )


def _listening_line(address: Any) -> str:
    host, port = address[0], address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"LISTENING {host}:{port}"


async def serve(settings: Settings, behaviours: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Serve until SIGTERM or SIGINT, then let in-flight requests finish within the grace period."""
    app = create_app(behaviours, required_api_key=settings.required_api_key, seed=settings.seed)
    runner = web.AppRunner(
        app,
        # Cancelling a handler when its client leaves is what lets the stats count cancelled calls.
        handler_cancellation=True,
        access_log=logger if settings.access_log else None,
        shutdown_timeout=settings.shutdown_grace_seconds,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        bound = runner.addresses[0]
        # The one print in the package: a launcher reads this line to learn the port picked for --port 0.
        print(_listening_line(bound), flush=True)
        logger.info(
            "mock upstream serving on %s:%s (behaviours: %s, key required: %s)",
            bound[0],
            bound[1],
            settings.behaviours_path or "none",
            settings.required_api_key is not None,
        )
        await stop.wait()
        logger.info("stopping: letting in-flight requests finish for up to %ss", settings.shutdown_grace_seconds)
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mock upstream; exit status 2 on invalid settings or behaviours."""
    settings = parse_settings(argv)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        behaviours = load_behaviours_file(settings.behaviours_path) if settings.behaviours_path else None
    except (BehaviourError, json.JSONDecodeError, OSError) as error:
        logger.error("cannot read behaviours file %s: %s", settings.behaviours_path, error)
        return 2
    try:
        asyncio.run(serve(settings, behaviours))
    except OSError as error:
        logger.error("cannot serve on %s:%s: %s", settings.host, settings.port, error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
