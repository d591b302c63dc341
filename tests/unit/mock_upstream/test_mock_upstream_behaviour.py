"""Behaviours resolve from model-name directives, behaviour files and overrides in a documented order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sluicegate_mock_upstream import Behaviour, BehaviourError, behaviour_from_model_name
from sluicegate_mock_upstream.answers import split_into_chunks
from sluicegate_mock_upstream.behaviour import BehaviourRegistry, load_behaviours_file


@pytest.mark.parametrize(
    ("model", "knobs"),
    [
        ("mock-fast", {}),
        ("gpt-4o", {}),
        ("mock-status-503", {"error_status": 503, "error_rate": 1.0}),
        ("mock-slow-1500", {"delay_ms": 1500}),
        ("mock-hang", {"hang": True}),
        ("mock-cut-3", {"cut_after_chunks": 3}),
        ("mock-ctx-100", {"context_window": 100}),
        ("mock-policy", {"content_policy": True}),
        ("mock-flaky-2", {"fail_first_n": 2, "error_status": 503}),
        ("mock-flaky-2-status-429-retry-1", {"fail_first_n": 2, "error_status": 429, "retry_after_seconds": 1}),
        ("mock-slow-200-drip-20-chunks-30-cut-5", {"delay_ms": 200, "chunk_delay_ms": 20, "chunks": 30,
                                                   "cut_after_chunks": 5}),
        ("openai/mock-hang-t7", {"hang": True}),
        ("mock-slow", {}),
        ("mock-status-200", {}),
        ("not-mock-hang", {}),
    ],
)  # fmt: skip
def test_model_name_directives(model: str, knobs: dict[str, Any]) -> None:
    assert behaviour_from_model_name(model) == knobs


def test_registry_layers_default_then_directives_then_model_entry() -> None:
    registry = BehaviourRegistry(
        {"*": {"delay_ms": 10, "chunks": 4}, "mock-slow-500-own": {"delay_ms": 1, "answer": "mine"}}
    )

    assert registry.resolve("mock-fast") == Behaviour(delay_ms=10, chunks=4)
    assert registry.resolve("mock-slow-300") == Behaviour(delay_ms=300, chunks=4)
    assert registry.resolve("mock-slow-500-own") == Behaviour(delay_ms=1, chunks=4, answer="mine")


def test_override_replaces_startup_entry_and_reset_restores_it() -> None:
    registry = BehaviourRegistry({"mock-x": {"delay_ms": 5}})

    registry.set_override("mock-x", {"hang": True})
    assert registry.resolve("mock-x") == Behaviour(hang=True)

    registry.reset_overrides()
    assert registry.resolve("mock-x") == Behaviour(delay_ms=5)


@pytest.mark.parametrize(
    "knobs",
    [
        {"no_such_knob": 1},
        {"delay_ms": -1},
        {"delay_ms": 1.5},
        {"hang": 1},
        {"chunks": 0},
        {"error_rate": 1.5},
        {"error_rate": True},
        {"error_status": 302},
        {"answer": 3},
        ["delay_ms"],
    ],
)
def test_invalid_behaviours_are_rejected(knobs: Any) -> None:
    with pytest.raises(BehaviourError):
        BehaviourRegistry({"mock-x": knobs})


def test_json_behaviours_file(tmp_path: Path) -> None:
    path = tmp_path / "behaviours.json"
    path.write_text(json.dumps({"*": {"chunks": 3}, "mock-y": {"error_rate": 1, "error_status": 429}}))

    assert load_behaviours_file(path) == {"*": {"chunks": 3}, "mock-y": {"error_rate": 1.0, "error_status": 429}}


def test_yaml_behaviours_file(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "behaviours.yaml"
    path.write_text('"*":\n  delay_ms: 5\nmock-z:\n  cut_after_chunks: 2\n')

    assert load_behaviours_file(path) == {"*": {"delay_ms": 5}, "mock-z": {"cut_after_chunks": 2}}


def test_behaviours_file_error_names_the_file_and_model(tmp_path: Path) -> None:
    path = tmp_path / "behaviours.json"
    path.write_text(json.dumps({"mock-bad": {"chunks": "many"}}))

    with pytest.raises(BehaviourError, match=r"behaviours.json: model 'mock-bad': chunks"):
        load_behaviours_file(path)


@pytest.mark.parametrize("chunk_count", [1, 3, 8, 50])
def test_chunks_join_back_to_the_exact_text(chunk_count: int) -> None:
    text = "  Mock answer:\n you said:  a  b\tc d e f g h i j  "

    pieces = split_into_chunks(text, chunk_count)

    assert "".join(pieces) == text
    assert len(pieces) == min(chunk_count, 14)
    assert all(piece.strip() for piece in pieces)
