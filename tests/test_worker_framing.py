"""Frames between the language server and its worker: split, joined and refused correctly."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from code_evolver.pipeline.fix_loop import FixJob
from code_evolver.values import DiagnosticInfo, Target
from code_evolver.worker.framing import FrameBuffer, encode, read_frame


def test_frames_survive_any_split_of_the_bytes() -> None:
    job = FixJob(
        Target("/w/a.py", "python", "/w"),
        "x = 1\n" * 500,
        (DiagnosticInfo("NameError", 3, "pyright", None),),
    )
    messages = [("job", 1, job), ("cancel", 1), ("step", 7, "é" * 70_000)]
    data = b"".join(encode(m) for m in messages)
    for size in (1, 3, 4, 5, 4096, len(data)):
        buffer = FrameBuffer()
        out = []
        for start in range(0, len(data), size):
            out.extend(buffer.feed(data[start : start + size]))
        assert out == messages, size


def test_a_stream_ends_cleanly_only_between_frames() -> None:
    data = encode(("cancel", 1)) + encode(("cancel", 2))
    stream = io.BytesIO(data)
    assert read_frame(stream) == ("cancel", 1)
    assert read_frame(stream) == ("cancel", 2)
    assert read_frame(stream) is None
    assert read_frame(io.BytesIO(data[:-1])) == ("cancel", 1)


def test_a_length_that_is_not_ours_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of ours"):
        FrameBuffer().feed(b"\xff\xff\xff\xff" + b"x" * 10)


def test_the_worker_stops_on_garbage_and_says_why() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "code_evolver.worker.process"],
        input=b"GET / HTTP/1.1\r\n\r\n",
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == b""
    assert b"unreadable request" in done.stderr
