"""Review of the derived model's build: concurrent builders in separate processes, and a builder killed mid-way."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from sluicegate.embedding import model
from sluicegate.embedding.model import quantized_model_path

# fork: the children inherit the test's stand-in for the slow recipe
FORK = multiprocessing.get_context("fork")


def _stand_in_recipe(log: Path):
    def build(source: Path, target: Path) -> None:
        with open(log, "a") as builds:
            builds.write(f"{os.getpid()}\n")
        time.sleep(0.3)
        partial = target.with_suffix(".partial")
        partial.write_bytes(b"model")
        os.replace(partial, target)

    return build


def _build_into(directory: Path, answers) -> None:
    answers.put(str(quantized_model_path(directory)))


def test_processes_starting_together_build_the_model_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(model, "_quantize", _stand_in_recipe(tmp_path / "builds"))
    answers = FORK.Queue()
    builders = [FORK.Process(target=_build_into, args=(tmp_path / "models", answers)) for _ in range(4)]
    for builder in builders:
        builder.start()
    for builder in builders:
        builder.join(20)
    assert [builder.exitcode for builder in builders] == [0] * 4
    assert len({answers.get(timeout=1) for _ in builders}) == 1
    assert len((tmp_path / "builds").read_text().split()) == 1


def test_a_builder_killed_mid_build_leaves_nothing_the_next_build_keeps(tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "models"
    builder = FORK.Process(target=_build_into, args=(directory, FORK.Queue()))
    builder.start()
    deadline = time.monotonic() + 30
    while not any(path.is_dir() and any(path.iterdir()) for path in _listing(directory)):
        assert time.monotonic() < deadline and builder.is_alive(), "the real build never started writing"
        time.sleep(0.02)
    os.kill(builder.pid, signal.SIGKILL)
    builder.join(10)

    monkeypatch.setattr(model, "_quantize", _stand_in_recipe(tmp_path / "builds"))
    target = quantized_model_path(directory)
    assert sorted(path.name for path in directory.iterdir()) == sorted([".build.lock", target.name])


def _listing(directory: Path) -> list[Path]:
    return list(directory.iterdir()) if directory.exists() else []
