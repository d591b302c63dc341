"""The dev stack's process logs as tests read them: only the lines a process has finished writing."""

from __future__ import annotations

from sluicegate.devstack.processes import ManagedProcess, completed_json_lines


def test_a_log_line_still_being_written_is_left_out_of_the_records(tmp_path) -> None:
    process = ManagedProcess("writer", [], tmp_path)
    assert process.log_records() == []  # no log yet
    process.log_path.write_text('{"event": "rpc", "n": 1}\nstarting up\n{"event": "rpc", "n": 2}\n{"event": "r')
    assert process.log_records() == [{"event": "rpc", "n": 1}, {"event": "rpc", "n": 2}]
    assert completed_json_lines('{"n": 1}\n') == [{"n": 1}] and completed_json_lines('{"n": 1') == []
