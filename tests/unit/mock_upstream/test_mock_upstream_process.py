"""The command line starts on a free port, announces it on stdout, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp


async def start_mock(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sluicegate_mock_upstream", "--host", "127.0.0.1", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_cli_announces_port_serves_behaviours_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    behaviours = tmp_path / "behaviours.json"
    behaviours.write_text(json.dumps({"mock-file": {"answer": "configured by file"}}))
    process = await start_mock("--behaviours", str(behaviours), env={"MOCK_UPSTREAM_REQUIRE_KEY": "k1"})
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=15)).decode()
        assert line.startswith("LISTENING 127.0.0.1:"), line
        port = int(line.strip().rsplit(":", 1)[1])
        assert port > 0

        async with aiohttp.ClientSession(headers={"Authorization": "Bearer k1"}) as session:
            body = {"model": "mock-file", "messages": [{"role": "user", "content": "hi"}]}
            response = await session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
            assert (await response.json())["choices"][0]["message"]["content"] == "configured by file"
            unauthorised = await session.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers={"Authorization": "Bearer x"}
            )
            assert unauthorised.status == 401

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
        assert port_is_free(port)
        # Nothing but the LISTENING line goes to stdout: no per-request output.
        assert await process.stdout.read() == b""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_cli_refuses_an_invalid_behaviours_file(tmp_path: Path) -> None:
    behaviours = tmp_path / "behaviours.json"
    behaviours.write_text(json.dumps({"mock-file": {"delay_ms": "soon"}}))
    process = await start_mock("--behaviours", str(behaviours))

    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=15)

    assert process.returncode == 2
    assert stdout == b""
    assert b"delay_ms" in stderr
