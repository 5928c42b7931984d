"""How the language server's messages leave it: one write per loop turn, answers at once."""

from __future__ import annotations

import asyncio
import io
import json

from lsprotocol import types

from code_evolver.lsp.output import CoalescingWriter
from code_evolver.lsp.server import build_server
from code_evolver.lsp.warm_up import warm_up


class _Stdout(io.BytesIO):
    """A stdout that remembers each write() as the editor would receive it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append(bytes(data))
        return super().write(data)


def _bodies(data: bytes) -> list[dict]:
    out = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def _log(message: str) -> types.LogMessageParams:
    return types.LogMessageParams(type=types.MessageType.Info, message=message)


async def test_messages_of_one_turn_leave_in_one_write() -> None:
    server, _ = build_server()
    stdout = _Stdout()
    server.protocol.set_writer(CoalescingWriter(stdout, asyncio.get_running_loop()))
    for i in range(5):
        server.protocol.notify(types.WINDOW_LOG_MESSAGE, _log(f"line {i}"))
    assert stdout.writes == []
    await asyncio.sleep(0)
    assert len(stdout.writes) == 1
    assert [b["params"]["message"] for b in _bodies(stdout.writes[0])] == [
        f"line {i}" for i in range(5)
    ]


async def test_an_answer_leaves_at_once_after_what_was_written_before_it() -> None:
    server, _ = build_server()
    stdout = _Stdout()
    server.protocol.set_writer(CoalescingWriter(stdout, asyncio.get_running_loop()))
    server.protocol.notify(types.WINDOW_LOG_MESSAGE, _log("before"))
    server.protocol._send_response(7, result=[])
    assert len(stdout.writes) == 1, "the answer waited for the loop's turn to end"
    bodies = _bodies(stdout.writes[0])
    assert [b.get("id") for b in bodies] == [None, 7]
    assert bodies[0]["params"]["message"] == "before"
    await asyncio.sleep(0)
    assert len(stdout.writes) == 1


async def test_after_warm_up_a_fixs_messages_build_no_converter() -> None:
    """cattrs compiles a converter the first time it meets a type, and empties its cache when
    it meets a new list or dict type; each miss is a compile on the event loop."""
    server, _ = build_server()
    protocol = server.protocol
    protocol.set_writer(CoalescingWriter(_Stdout(), asyncio.get_running_loop()))
    warm_up(protocol)
    cache = protocol._converter._unstructure_func.dispatch
    misses = cache.cache_info().misses
    token = "t"
    protocol.send_request(
        types.WINDOW_WORK_DONE_PROGRESS_CREATE, types.WorkDoneProgressCreateParams(token=token)
    )
    protocol.notify(
        types.PROGRESS,
        types.ProgressParams(token, types.WorkDoneProgressBegin(title="Fixing", message="x")),
    )
    protocol.notify(types.PROGRESS, types.ProgressParams(token, types.WorkDoneProgressReport()))
    protocol.notify(types.WINDOW_LOG_MESSAGE, _log("attempt 1/3"))
    protocol.notify("codeEvolver/status", {"state": "ok", "endpoints": []})
    protocol.notify(types.PROGRESS, types.ProgressParams(token, types.WorkDoneProgressEnd()))
    protocol._send_response(3, result={"applied": True, "message": "Fixed."})
    assert cache.cache_info().misses == misses
