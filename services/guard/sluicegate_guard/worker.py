"""A scan worker process (`python -m sluicegate_guard.worker`): scans what the guard's PoolScanner sends on stdin.

Frames go both ways as a header (payload length, call id, status) and a pickle. The first frame on stdin
holds the parent's `sys.path` and the pickled engine factory; each later one is a call, `(texts, options)`,
answered on stdout by one frame with the same call id holding the scans or the exception. The worker serves
one call at a time and exits when stdin closes, so it never outlives the server.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import sys
from typing import BinaryIO

# payload length, call id, status
HEADER = struct.Struct("!IQB")
OK = 0
FAILED = 1
# The call id of the first frame (the engine factory); a worker that cannot build its engine answers it with why.
START_UP_CALL_ID = 0


def encode(call_id: int, status: int, payload: object) -> bytes:
    data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data), call_id, status) + data


def _read_frame(stream: BinaryIO) -> tuple[int, bytes] | None:
    """The next call id and payload, or None once the server has closed the pipe."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, call_id, _ = HEADER.unpack(header)
    payload = stream.read(length)
    return (call_id, payload) if len(payload) == length else None


def _failure(call_id: int, exc: Exception) -> bytes:
    try:
        return encode(call_id, FAILED, exc)
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled still has to fail its call
        return encode(call_id, FAILED, RuntimeError(f"the scan failed with {type(exc).__name__}"))


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Builds the engine from the first frame, then answers calls until `requests` ends."""
    first = _read_frame(requests)
    if first is None:
        return
    sys_path, factory = pickle.loads(first[1])
    # As multiprocessing's spawn does: the factory may live in a module only the parent's path reaches.
    sys.path[:] = sys_path
    try:
        engine = pickle.loads(factory)()
    except Exception as exc:  # noqa: BLE001 - the server learns why before the pipe closes
        replies.write(_failure(START_UP_CALL_ID, exc))
        replies.flush()
        return
    warm = False
    while (frame := _read_frame(requests)) is not None:
        call_id, payload = frame
        try:
            texts, options = pickle.loads(payload)
            reply = encode(call_id, OK, engine.scan(texts, options))
        except Exception as exc:  # noqa: BLE001 - the caller gets the exception, the worker serves on
            reply = _failure(call_id, exc)
        replies.write(reply)
        replies.flush()
        if not warm:
            _freeze_engine_heap()
            warm = True


def _freeze_engine_heap() -> None:
    """Moves the engine (models, recognizers, what the first scan loaded lazily) out of the garbage collector's
    reach once the first call is answered: otherwise every full collection walks its ~125k objects again, a
    ~65 ms pause (with NER) on whichever scan triggers it, every few thousand scans."""
    gc.collect()
    gc.freeze()


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group; the server decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    # Only frames may reach the pipes: whatever a library prints goes to stderr, and nothing reads our stdin.
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    serve(requests, replies)


if __name__ == "__main__":
    main()
