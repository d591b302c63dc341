"""The dev stack's co-located topology is asked for with `colocated`, and the services it hosts cannot also be
given replicas of their own (they would be silently ignored)."""

from __future__ import annotations

import pytest

from sluicegate.devstack.__main__ import main
from sluicegate.devstack.stack import Stack, StackConfig


def test_replicas_of_a_co_located_service_are_refused_naming_it(tmp_path) -> None:
    with pytest.raises(ValueError, match="router run inside the co-located processes"):
        Stack(StackConfig(run_dir=tmp_path, colocated=2, replicas={"router": 3, "observer": 2}))


def test_the_observer_keeps_its_replicas_beside_co_located_processes(tmp_path) -> None:
    stack = Stack(StackConfig(run_dir=tmp_path, colocated=2, replicas={"observer": 2}))
    assert stack.config.replicas == {"observer": 2}


def test_the_command_line_reports_the_conflict_as_a_usage_error(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["up", "--run-dir", str(tmp_path), "--colocated", "2", "--replicas", "guard=2"])
    assert exited.value.code == 2
    assert "guard run inside the co-located processes" in capsys.readouterr().err
