"""Start, wait for and stop the stack's processes (services, Redis, Envoy, the mock upstream) without Docker."""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

LISTENING_PREFIX = "LISTENING "


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10_000
# Ports this process handed out, never handed out twice.
_handed_out: set[int] = set()


def completed_json_lines(text: str) -> list[dict]:
    """The JSON objects among the complete lines of `text` (a log still being written: its last line may be cut)."""
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.startswith("{")]


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for servers that cannot bind port 0 themselves).

    It is chosen below the kernel's ephemeral range when that range is known: the stack picks every port before
    it starts anything, so a port may be bound seconds after it was chosen, and meanwhile the outgoing
    connections of the services already running take their ports from that range (the kernel's own port-0 choice
    comes from it too, and one of those connections once took a port chosen that way before its server bound it).
    """
    ephemeral_low = _ephemeral_range_start()
    for _ in range(100 if ephemeral_low > _LOWEST_PORT + 1000 else 0):
        port = random.randrange(_LOWEST_PORT, ephemeral_low)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _ephemeral_range_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def wait_for_port_free(port: int, host: str = "127.0.0.1", timeout_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex((host, port)) != 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} still in use after {timeout_seconds}s")


def wait_for_port_open(port: int, host: str = "127.0.0.1", timeout_seconds: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_seconds}s")


class ManagedProcess:
    """A child process whose stderr goes to a log file and whose `LISTENING host:port` line gives its address."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        expect_listening_line: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.log_path = Path(log_dir) / f"{name}.log"
        self.expect_listening_line = expect_listening_line
        self.process: subprocess.Popen[str] | None = None
        self.address = ""

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def start(self, timeout_seconds: float = 60.0) -> str:
        """Starts the process and waits for its LISTENING line; returns `host:port`."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE if self.expect_listening_line else log_file,
            stderr=log_file,
            env=self.env,
            cwd=self.cwd,
            text=True,
            start_new_session=True,
        )
        log_file.close()
        if not self.expect_listening_line:
            return ""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}:\n{self.tail()}"
                )
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if not ready:
                continue
            line = self.process.stdout.readline()
            if line.startswith(LISTENING_PREFIX):
                self.address = line[len(LISTENING_PREFIX) :].strip()
                # Keep draining stdout so a chatty child never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return self.address
        self.stop()
        raise TimeoutError(f"{self.name} did not report LISTENING within {timeout_seconds}s; see {self.log_path}")

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with open(self.log_path, "a") as sink:
            for line in self.process.stdout:
                sink.write(line)

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(FileNotFoundError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_records(self) -> list[dict]:
        """The structured (JSON) lines the process has finished writing to its log; one still being written, at
        the end, is left out."""
        with contextlib.suppress(FileNotFoundError):
            return completed_json_lines(self.log_path.read_text(errors="replace"))
        return []

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.process is not None
            os.kill(self.process.pid, sig)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """SIGTERM, wait for the exit (services drain in their grace period), then SIGKILL the whole group."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def redis_server_path() -> str:
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(path).exists():
        raise FileNotFoundError("redis-server is not installed: run `make setup` (apt-get install redis-server)")
    return path


class RedisServer(ManagedProcess):
    """A private Redis on a free port with append-only persistence in its own folder."""

    def __init__(self, data_dir: Path, log_dir: Path, port: int = 0, appendfsync: str = "everysec") -> None:
        self.data_dir = Path(data_dir)
        self.requested_port = port
        self.appendfsync = appendfsync
        super().__init__("redis", [], log_dir, expect_listening_line=False)

    @property
    def url(self) -> str:
        return f"redis://{self.address}/0"

    def start(self, timeout_seconds: float = 20.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self.requested_port or free_port()
        self.argv = [
            redis_server_path(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--protected-mode", "no",
        ]  # fmt: skip
        super().start()
        wait_for_port_open(port, timeout_seconds=timeout_seconds)
        self.address = f"127.0.0.1:{port}"
        return self.address


def python_module(module: str) -> list[str]:
    """argv that runs a module with the current interpreter (the project venv's)."""
    return [sys.executable, "-m", module]
