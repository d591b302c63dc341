"""The dev stack's ports: chosen before anything starts, so they must not be ones outgoing connections take."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sluicegate.devstack.processes import free_port

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(not EPHEMERAL_RANGE.exists(), reason="the kernel's ephemeral range is not readable here")
def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = [free_port() for _ in range(50)]

    assert len(set(ports)) == len(ports)
    assert all(port < low for port in ports)  # an outgoing connection never takes one of these meanwhile
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports[0]))  # and each was free to bind
