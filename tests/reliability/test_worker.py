"""The worker process: all work runs there, and its death costs one answer.

The language server keeps the editor's conversation on one thread and hands every fix,
generation and run to `python -m code_evolver.worker.process`. These tests watch both processes
from /proc while real fixes run against a fake Ollama. (That the worker never outlives the
server is in tests/test_lsp_lifecycle.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from reliability_kit import fence, logs, lsp_session, server_pid, wait_until, worker_of

from conftest import role_config
from lsp_harness import Editor
from samples import BUGGY, FIXED, FIXED_FUNCTION

FIX = "codeEvolver.fixDiagnostics"


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


async def test_the_language_server_thread_is_alone_while_fixes_run(
    tmp_path: Path, fake_factory, write_config
) -> None:
    fake = fake_factory(reply=fence(FIXED_FUNCTION))
    fake.latency = 1.0
    config = write_config(role_config({"generator": [fake.url]}))
    async with lsp_session(tmp_path / "ws", config) as editor:
        pid = server_pid(editor)
        assert wait_until(lambda: worker_of(pid) is not None)
        worker = worker_of(pid)
        assert worker is not None
        before = _threads(pid)
        uris = [editor.open(f"buggy{i}.py", BUGGY) for i in range(4)]
        tasks = [asyncio.ensure_future(editor.command(FIX, uri=u)) for u in uris]
        assert await editor.wait_for(lambda: fake.active == 4)
        during, worker_during = _threads(pid), _threads(worker)
        results = await asyncio.gather(*tasks)
        assert all(r["applied"] for r in results), results
        assert during == before, "the language server started threads of its own for the work"
        assert worker_during >= 4, "the fixes did not run in the worker"
        assert all(editor.texts[u] == FIXED for u in uris)
        # Log lines of one loop turn travel together; none is lost or repeated on the way.
        lines = [line for m in logs(editor) for line in m.splitlines()]
        for i in range(4):
            assert sum(f"Running buggy{i}.py" in line for line in lines) == 1, lines


def _nice(pid: int) -> int:
    """The nice value of `pid` (field 19 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as handle:
        return int(handle.read().rsplit(")", 1)[-1].split()[16])


async def test_the_editor_comes_first_the_worker_next_and_user_code_last(
    tmp_path: Path, fake_factory, write_config
) -> None:
    fake = fake_factory(reply=fence(FIXED_FUNCTION))
    config = write_config(role_config({"generator": [fake.url]}))
    report = tmp_path / "nice.txt"
    program = f"import os\nopen({str(report)!r}, 'w').write(str(os.nice(0)))\n" + BUGGY
    async with lsp_session(tmp_path / "ws", config) as editor:
        pid = server_pid(editor)
        uri = editor.open("reports_its_priority.py", program)
        result = await editor.command(FIX, uri=uri)
        assert result["applied"] is True, result
        worker = worker_of(pid)
        assert worker is not None
        server, worker_nice, program_nice = _nice(pid), _nice(worker), int(report.read_text())
        assert server == os.nice(0)
        assert server < worker_nice < program_nice, (server, worker_nice, program_nice)


@contextlib.asynccontextmanager
async def _a_fix_waiting_on_the_model(
    tmp_path: Path, fake_factory: Any, write_config: Any
) -> AsyncIterator[tuple[Editor, Any, str, asyncio.Future[Any]]]:
    """A session whose fix of first.py is waiting on a model that answers after 30 s:
    (editor, fake, uri, the command's future)."""
    fake = fake_factory(reply=fence(FIXED_FUNCTION))
    fake.latency = 30.0
    slow = {"connect": 2, "first_byte": 60, "idle": 60, "total": 120}
    config = write_config(role_config({"generator": [fake.url]}, timeouts=slow))
    async with lsp_session(tmp_path / "ws", config) as editor:
        uri = editor.open("first.py", BUGGY)
        task = asyncio.ensure_future(editor.command(FIX, uri=uri))
        assert await editor.wait_for(lambda: fake.active == 1)
        yield editor, fake, uri, task


async def test_a_worker_killed_mid_fix_costs_that_answer_only(
    tmp_path: Path, fake_factory, write_config
) -> None:
    async with _a_fix_waiting_on_the_model(tmp_path, fake_factory, write_config) as (
        editor,
        fake,
        first,
        task,
    ):
        pid = server_pid(editor)
        worker = worker_of(pid)
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        result = await asyncio.wait_for(task, 20)
        assert result["applied"] is False
        assert "worker process stopped" in result["message"], result
        assert editor.texts[first] == BUGGY
        shown = [m for m in editor.messages() if "worker process stopped" in m]
        assert shown and "Run the command again" in shown[0]

        fake.latency = 0.0
        second = editor.open("second.py", BUGGY)
        result = await editor.command(FIX, uri=second)
        assert result["applied"] is True, result
        assert worker_of(pid) not in (None, worker)


async def test_modules_in_the_users_project_do_not_replace_the_workers(
    tmp_path: Path, fake_factory, write_config
) -> None:
    """Editors start `code-evolver lsp` in the project folder; a requests.py or yaml.py there
    must not be what the worker imports."""
    script = shutil.which("code-evolver", path=os.path.dirname(sys.executable))
    assert script is not None, "the code-evolver console script is not installed beside Python"
    fake = fake_factory(reply=fence(FIXED_FUNCTION))
    config = write_config(role_config({"generator": [fake.url]}))
    project = tmp_path / "ws"
    project.mkdir()
    for name in ("requests", "yaml", "urllib3"):
        (project / f"{name}.py").write_text("raise SystemExit('the project shadowed me')\n")
    in_project = ["sh", "-c", 'cd "$1" && exec "$2" lsp', "sh", str(project), script]
    async with lsp_session(project, config, command=in_project) as editor:
        uri = editor.open("buggy.py", BUGGY)
        result = await editor.command(FIX, uri=uri)
        assert result["applied"] is True, result


# Loaded by every Python started with it on PYTHONPATH; breaks only the worker, and only while
# the flag file exists: the worker then dies importing yaml, as in an environment without it.
_BREAK_THE_WORKER = """\
import os, sys
if "code_evolver.worker.process" in getattr(sys, "orig_argv", ()) and os.path.exists({flag!r}):
    sys.modules["yaml"] = None
"""


async def test_a_worker_that_cannot_start_says_why_and_is_retried_after_a_pause(
    tmp_path: Path, fake_factory, write_config
) -> None:
    fake = fake_factory(reply=fence(FIXED_FUNCTION))
    config = write_config(role_config({"generator": [fake.url]}))
    site = tmp_path / "site"
    site.mkdir()
    flag = tmp_path / "broken"
    flag.touch()
    (site / "sitecustomize.py").write_text(_BREAK_THE_WORKER.format(flag=str(flag)))
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    async with lsp_session(tmp_path / "ws", config, env=env) as editor:
        pid = server_pid(editor)
        uri = editor.open("buggy.py", BUGGY)
        assert await editor.wait_for(lambda: any("could not start" in m for m in logs(editor)))
        first = await editor.command(FIX, uri=uri)
        assert first["applied"] is False
        message = first["message"]
        assert "could not start" in message and "yaml" in message, message
        assert "-m code_evolver.worker.process" in message and "try again in" in message, message
        assert any("worker: ModuleNotFoundError" in m and "yaml" in m for m in logs(editor))
        shown = await editor.command("codeEvolver.showStatus")  # what the status bar shows
        assert "could not start" in shown.get("problem", ""), shown
        # Within the pause nothing is started again: the answer comes without a new worker.
        again = await editor.command(FIX, uri=uri)
        assert "could not start" in again["message"], again
        assert worker_of(pid) is None
        assert editor.texts[uri] == BUGGY

        flag.unlink()  # the environment is mended
        await asyncio.sleep(5.5)  # the first pause is 5 s
        mended = await editor.command(FIX, uri=uri)
        assert mended["applied"] is True, mended
        assert worker_of(pid) is not None
        shown = await editor.command("codeEvolver.showStatus")
        assert "problem" not in shown and shown["healthy"] > 0, shown


async def test_shutdown_while_a_fix_waits_answers_cleanly_and_stops_the_fix(
    tmp_path: Path, fake_factory, write_config
) -> None:
    async with _a_fix_waiting_on_the_model(tmp_path, fake_factory, write_config) as (
        editor,
        fake,
        uri,
        task,
    ):
        # pygls answered this with "dictionary changed size during iteration" (pygls#606).
        answer = await asyncio.wait_for(editor.client.shutdown_async(None), 30)
        assert answer is None
        done, _ = await asyncio.wait([task], timeout=30)
        assert done, "the fix never ended"
        assert fake.wait_for(lambda: fake.active == 0, timeout=10), "the model stream stayed open"
        assert editor.texts[uri] == BUGGY
        editor.client.exit(None)
        server = editor.client._server
        assert server is not None
        code = await asyncio.wait_for(server.wait(), 30)
        assert code == 0
