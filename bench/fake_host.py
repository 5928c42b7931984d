"""FakeOllama servers in a process of their own, steered by JSON lines on stdin.

Started by benchlib.FakeHost; prints {"urls": [...]} and then answers one JSON line per command:
  {"op": "set", "index": i or null, "attrs": {"latency": 0.2, "max_concurrent": 1, ...}}
  {"op": "fail", "index": i, "mode": "refuse" | "hang" | ... | null, "kw": {...}}
  {"op": "stats"}   {"op": "reset"}   {"op": "quit"}
It stops its servers and exits when stdin closes, so it never outlives the benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fake_ollama
from fake_ollama import FakeOllama

SETTABLE = {
    "latency",
    "chunk_delay",
    "chunk_size",
    "max_concurrent",
    "reply",
    "models",
    "cold_load",
    "loaded",
}


def _no_delay() -> None:
    """Send each write at once (TCP_NODELAY), as Ollama (Go's net/http) does.

    tests/fake_ollama.py leaves Nagle's algorithm on: its first body chunk then waits for the
    client's delayed ACK, about 40 ms per request on Linux, which would hide any client cost.
    """
    setup = fake_ollama._Handler.setup

    def setup_no_delay(self: Any) -> None:
        with contextlib.suppress(OSError):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        setup(self)

    fake_ollama._Handler.setup = setup_no_delay


def stats(fake: FakeOllama) -> dict[str, Any]:
    with fake._lock:
        requests = list(fake.requests)
    return {
        "url": fake.url,
        "generate": sum(1 for r in requests if r.path in ("/api/generate", "/api/chat")),
        "requests": len(requests),
        "connections": fake.connections,
        "disconnects": fake.disconnects,
        "peak_active": fake.peak_active,
        "active": fake.active,
        "queued": fake.queued,
        "errors": len(fake.errors),
    }


def handle(fakes: list[FakeOllama], cmd: dict[str, Any]) -> Any:
    op = cmd.get("op")
    if op == "set":
        index = cmd.get("index")
        targets = fakes if index is None else [fakes[int(index)]]
        for name, value in (cmd.get("attrs") or {}).items():
            if name not in SETTABLE:
                raise ValueError(f"cannot set {name!r}")
            for fake in targets:
                setattr(fake, name, value)
        return None
    if op == "fail":
        fakes[int(cmd["index"])].fail(cmd.get("mode"), **(cmd.get("kw") or {}))
        return None
    if op == "stats":
        return [stats(f) for f in fakes]
    if op == "reset":
        for fake in fakes:
            with fake._lock:
                fake.requests.clear()
                fake.peak_active = fake._active
        return None
    if op == "quit":
        return None
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument(
        "--nagle", action="store_true", help="keep Nagle's algorithm on (the fake's default)"
    )
    args = parser.parse_args()
    if not args.nagle:
        _no_delay()
    fakes = [FakeOllama(name=f"fake{i}").start() for i in range(max(1, args.count))]
    print(json.dumps({"urls": [f.url for f in fakes]}), flush=True)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            cmd = json.loads(line)
            try:
                reply = {"ok": True, "result": handle(fakes, cmd)}
            except Exception as exc:  # report to the benchmark, keep serving
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply), flush=True)
            if cmd.get("op") == "quit":
                break
    finally:
        for fake in fakes:
            fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
