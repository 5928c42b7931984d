"""Tests for running code safely, and for the cancellation token it shares with the LLM client."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from code_evolver.cancel import Cancelled, CancelToken
from code_evolver.pipeline.runner import (
    RunResult,
    command_for,
    find_test_file,
    python_run_command,
    run_and_capture,
)
from code_evolver.sandbox.inrun_files import SCRIPT_WRAPPER

posix_only = pytest.mark.skipif(os.name != "posix", reason="process groups and rlimits are POSIX")


def python(tmp_path: Path, code: str) -> list[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    return [sys.executable, str(script)]


def process_gone(pid: int) -> bool:
    """Whether `pid` no longer runs; a zombie waiting for a non-reaping init counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def wait_until(predicate: Callable[[], bool], limit: float = 20.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_captures_stdout_stderr_and_exit_code(tmp_path: Path) -> None:
    argv = python(
        tmp_path,
        """
        import os, sys
        print("out", os.getcwd())
        print("err", file=sys.stderr)
        sys.exit(3)
        """,
    )
    result = run_and_capture(argv, cwd=str(tmp_path))
    assert result.exit_code == 3
    assert result.stdout == f"out {tmp_path}\n"
    assert result.stderr == "err\n"
    assert not (result.ok or result.timed_out or result.cancelled or result.truncated)
    assert result.argv == tuple(argv)
    assert result.describe().endswith("exited with code 3")


def test_success_and_stdin(tmp_path: Path) -> None:
    argv = python(tmp_path, "import sys\nprint(sys.stdin.read().upper())\n")
    result = run_and_capture(argv, cwd=str(tmp_path), stdin_data="héllo")
    assert result.ok
    assert result.stdout == "HÉLLO\n"
    assert "exited normally" in result.describe()


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    argv = python(tmp_path, "import sys\nsys.stdout.buffer.write(b'a\\xffb')\n")
    assert run_and_capture(argv, cwd=str(tmp_path)).stdout == "a\ufffdb"


def test_string_argv_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        run_and_capture("echo hi", cwd=str(tmp_path))


def test_missing_executable_is_a_result_not_an_exception(tmp_path: Path) -> None:
    result = run_and_capture(["no-such-program-xyz", "--help"], cwd=str(tmp_path))
    assert result.exit_code is None
    assert result.stderr == "command not found: no-such-program-xyz"
    assert not result.ok
    assert "could not be started" in result.describe()


def test_missing_working_directory(tmp_path: Path) -> None:
    result = run_and_capture([sys.executable, "-V"], cwd=str(tmp_path / "nope"))
    assert result.exit_code is None and "working directory not found" in result.stderr


@posix_only
def test_timeout_kills_the_child_and_its_grandchild(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    argv = python(
        tmp_path,
        f"""
        import subprocess, time
        sleeper = subprocess.Popen(["sleep", "30"])
        with open({str(pid_file)!r}, "w") as f:
            f.write(str(sleeper.pid))
        print("started", flush=True)
        time.sleep(30)
        """,
    )
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=3)
    assert result.timed_out and not result.ok
    assert result.exit_code is None
    assert result.stdout == "started\n"
    assert result.describe().endswith("timed out after 3 s and was stopped")
    grandchild = int(pid_file.read_text())
    assert wait_until(lambda: process_gone(grandchild))


@posix_only
def test_leftover_background_process_is_killed_after_a_normal_exit(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    argv = python(
        tmp_path,
        f"""
        import subprocess
        sleeper = subprocess.Popen(["sleep", "30"])
        with open({str(pid_file)!r}, "w") as f:
            f.write(str(sleeper.pid))
        """,
    )
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=20)
    assert result.ok
    grandchild = int(pid_file.read_text())
    assert wait_until(lambda: process_gone(grandchild))


def test_output_of_an_endless_printer_is_capped(tmp_path: Path) -> None:
    argv = python(tmp_path, "while True:\n    print('x' * 999)\n")
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=2, output_limit=50_000)
    assert result.timed_out
    assert result.truncated
    assert len(result.stdout) == 50_000
    assert set(result.stdout) <= {"x", "\n"}
    assert "output was truncated" in result.describe()


def test_large_output_is_drained_so_the_child_can_finish(tmp_path: Path) -> None:
    argv = python(
        tmp_path,
        """
        import sys
        sys.stdout.write("o" * 3_000_000)
        sys.stderr.write("e" * 3_000_000)
        print("done", file=sys.stderr)
        """,
    )
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=60, output_limit=1000)
    assert result.ok and result.truncated
    assert result.stdout == "o" * 1000 and result.stderr == "e" * 1000


def test_cancel_from_another_thread_stops_the_run(tmp_path: Path) -> None:
    started = tmp_path / "started"
    argv = python(
        tmp_path,
        f"""
        import pathlib, time
        pathlib.Path({str(started)!r}).write_text("yes")
        time.sleep(60)
        """,
    )
    token = CancelToken()

    def cancel_when_started() -> None:
        wait_until(started.exists)
        token.cancel()

    canceller = threading.Thread(target=cancel_when_started)
    canceller.start()
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=120, cancel=token)
    canceller.join()
    assert result.cancelled and not result.timed_out and not result.ok
    assert result.exit_code is None
    assert "cancelled" in result.describe()


def test_already_cancelled_token_does_not_start(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    token = CancelToken()
    token.cancel()
    argv = python(tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    result = run_and_capture(argv, cwd=str(tmp_path), cancel=token)
    assert result.cancelled and not marker.exists()


def test_secrets_are_stripped_from_the_environment(tmp_path: Path) -> None:
    argv = python(tmp_path, "import json, os\nprint(json.dumps(dict(os.environ)))\n")
    env = {
        "FOO_TOKEN": "t",
        "api_key": "k",
        "MY_SECRET_THING": "s",
        "DB_PASSWORD": "p",
        "KEEP_ME": "yes",
        "PATH": os.environ.get("PATH", ""),
    }
    result = run_and_capture(argv, cwd=str(tmp_path), env=env)
    seen = json.loads(result.stdout)
    assert seen["KEEP_ME"] == "yes"
    assert not {"FOO_TOKEN", "api_key", "MY_SECRET_THING", "DB_PASSWORD"} & set(seen)
    assert seen["PYTHONUNBUFFERED"] == "1" and seen["PYTHONDONTWRITEBYTECODE"] == "1"

    kept = run_and_capture(argv, cwd=str(tmp_path), env=env, strip_secrets=False)
    assert json.loads(kept.stdout)["FOO_TOKEN"] == "t"


def test_secrets_are_stripped_from_the_inherited_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOO_TOKEN", "hidden")
    argv = python(tmp_path, "import os\nprint(os.environ.get('FOO_TOKEN', 'absent'))\n")
    assert run_and_capture(argv, cwd=str(tmp_path)).stdout == "absent\n"


@posix_only
def test_memory_limit_makes_a_huge_allocation_fail(tmp_path: Path) -> None:
    argv = python(
        tmp_path,
        """
        try:
            block = bytearray(4 * 1024 ** 3)
        except MemoryError:
            print("MemoryError")
        else:
            print("allocated", len(block))
        """,
    )
    result = run_and_capture(argv, cwd=str(tmp_path), memory_limit_mb=512, timeout=60)
    assert result.stdout == "MemoryError\n"


@posix_only
def test_cpu_limit_stops_a_busy_loop(tmp_path: Path) -> None:
    argv = python(tmp_path, "while True:\n    pass\n")
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=60, cpu_limit_s=1)
    assert not result.timed_out
    assert result.exit_code is not None and result.exit_code < 0
    assert result.out_of_cpu and result.hit_limit
    assert result.describe() == "python timed out: it used its 1 s of CPU time and was stopped"


@pytest.mark.skipif(
    not os.path.exists("/proc/self/autogroup"), reason="no autogroup scheduling here"
)
def test_a_run_is_scheduled_as_the_lightest_group_and_leaves_ours_alone(tmp_path: Path) -> None:
    """With autogroups a nice value only counts inside a session's group, and every run leads a
    session of its own: without its group's weight lowered, twenty runs weigh as much as the
    editor and the language server twenty times over."""
    ours_before = Path("/proc/self/autogroup").read_text()
    argv = python(
        tmp_path,
        """
        import os
        print(open("/proc/self/autogroup").read().split()[-1], os.nice(0))
        """,
    )
    result = run_and_capture(argv, cwd=str(tmp_path), timeout=30)
    assert result.stdout.split() == ["19", "15"], result
    assert Path("/proc/self/autogroup").read_text() == ours_before


def test_run_result_describe_for_a_signal() -> None:
    result = RunResult(("/bin/prog",), -9, "", "", False, False, False, 0.1)
    assert result.describe() == "prog was killed by SIGKILL"


def test_python_run_command_and_command_for() -> None:
    wrapper = SCRIPT_WRAPPER  # runs the file as `python a.py` would, and reports its end
    assert python_run_command("a.py") == [sys.executable, wrapper, "a.py"]
    assert python_run_command("a.py", python="/usr/bin/python3") == [
        "/usr/bin/python3",
        wrapper,
        "a.py",
    ]
    assert command_for("python", "a.py", {}) == [sys.executable, wrapper, "a.py"]
    configured = {
        "javascript": ["node", "{file}"],
        "python": ["{python}", "-X", "dev", "{file}"],
        "ruby": [],
        "shell": ["bash", "--file={file}"],
    }
    assert command_for("javascript", "/w/a.js", configured) == ["node", "/w/a.js"]
    assert command_for("python", "a.py", configured) == [sys.executable, "-X", "dev", "a.py"]
    assert command_for("shell", "s.sh", configured) == ["bash", "--file=s.sh"]
    assert command_for("ruby", "a.rb", configured) is None
    assert command_for("rust", "a.rs", configured) is None


def test_find_test_file(tmp_path: Path) -> None:
    module = tmp_path / "pkg" / "mod.py"
    module.parent.mkdir()
    module.write_text("")
    assert find_test_file(str(module), str(tmp_path)) is None

    (tmp_path / "tests").mkdir()
    suffix_style = tmp_path / "tests" / "mod_test.py"
    suffix_style.write_text("")
    assert find_test_file(str(module), str(tmp_path)) == str(suffix_style)

    beside = tmp_path / "pkg" / "test_mod.py"
    beside.write_text("")
    assert find_test_file(str(module), str(tmp_path)) == str(beside)

    in_tests = tmp_path / "tests" / "test_mod.py"
    in_tests.write_text("")
    assert find_test_file(str(module), str(tmp_path)) == str(in_tests)


def test_cancel_token_callbacks() -> None:
    token = CancelToken()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("a"))
    remove_b = token.add_callback(lambda: calls.append("b"))
    remove_b()
    token.raise_if_cancelled()
    assert not token.cancelled
    token.cancel()
    token.cancel()
    assert token.cancelled and calls == ["a"]
    token.add_callback(lambda: calls.append("late"))
    assert calls == ["a", "late"]
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_cancel_token_runs_every_callback_even_if_one_fails() -> None:
    token = CancelToken()
    calls: list[str] = []

    def fail() -> None:
        raise RuntimeError("callback failed")

    token.add_callback(fail)
    token.add_callback(lambda: calls.append("second"))
    with pytest.raises(RuntimeError):
        token.cancel()
    assert token.cancelled and calls == ["second"]


def test_cancel_token_from_many_threads_runs_callbacks_once() -> None:
    token = CancelToken()
    calls: list[int] = []
    token.add_callback(lambda: calls.append(1))
    threads = [threading.Thread(target=token.cancel) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]
