"""Runs are isolated: the workspace stays byte for byte as it was, nothing of a run outlives it,
it has no network, and it sees the project as the user does (packages, conftest.py, data files,
the project's own interpreter).

Every test runs the real checker and runner on a real project folder, with namespaces and again
with the scratch-copy fallback forced (CODE_EVOLVER_ISOLATION=copy), where the test applies to
the fallback. A test that needs the namespaces is skipped, saying why, where they are missing.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from code_evolver import ConfigManager
from code_evolver.config import Settings
from code_evolver.pipeline.checker import Check, Checker
from code_evolver.pipeline.runner import run_and_capture
from code_evolver.sandbox import (
    FORCE_VARIABLE,
    Sandbox,
    describe_isolation,
    isolation_in_force,
    project_python,
)
from code_evolver.sandbox.interpreter import BUNDLED_VARIABLE
from code_evolver.sandbox.isolation import NamespaceRun
from code_evolver.sandbox.report import run_report
from code_evolver.sandbox.run_status import SETUP_FAILED
from code_evolver.sandbox.sweep import MARKER, PREFIX, sweep_dead
from code_evolver.values import Target
from sandbox_kit import kill_marked, marked, new_mark, use_mode, write_project

WriteConfig = Callable[..., Path]


@pytest.fixture
def namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of what only the namespaces give (process containment, no network)."""
    use_mode("namespaces", monkeypatch)


def _settings(write_config: WriteConfig, extra: dict[str, Any] | None = None) -> Settings:
    return ConfigManager(write_config(extra or {})).settings


def _check(root: Path, relative: str, source: str, settings: Settings) -> Check:
    target = Target(str(root / relative), "python", str(root))
    with Checker(target, settings) as checker:
        return checker.check(textwrap.dedent(source))


def _snapshot(root: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under `root`: its kind, permission bits and content (or link target)."""
    seen: dict[str, tuple[str, int, bytes]] = {}
    for directory, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(directory, name)
            info = path.lstat()
            if path.is_symlink():
                seen[str(path)] = ("link", info.st_mode, os.readlink(path).encode())
            elif path.is_dir():
                seen[str(path)] = ("dir", info.st_mode, b"")
            else:
                seen[str(path)] = ("file", info.st_mode, path.read_bytes())
    return seen


# ---------------------------------------------------------------- the workspace stays as it was

VANDAL = """\
import os, pathlib, shutil
here = os.path.dirname(os.path.abspath(__file__))
open("notes.txt", "w").write("overwritten by the candidate")
pathlib.Path(here, "new.txt").write_text("new")
os.remove(os.path.join(here, "data", "input.csv"))
# An overlay cannot rename a folder of the lower layer (EXDEV, as in a container):
# shutil.move copies it instead, as `mv` does.
shutil.move(os.path.join(here, "sub"), os.path.join(here, "moved"))
os.rename(os.path.join(here, "keep.txt"), os.path.join(here, "kept.txt"))
shutil.rmtree(os.path.join(here, "data"))
os.chmod("notes.txt", 0o600)
os.symlink("/etc/hostname", os.path.join(here, "link"))
pathlib.Path(__file__).write_text("# the candidate replaced itself")
print("vandalised")
"""

VANDAL_TEST = """\
import os, pathlib
ROOT = pathlib.Path(__file__).resolve().parent.parent

def test_writes_and_deletes_in_the_workspace():
    (ROOT / "from_test.txt").write_text("x")
    os.remove(ROOT / "sub" / "mod.py")
    (ROOT / "notes.txt").write_text("overwritten by the test")
"""


USERS_PROJECT = {
    "prog.py": "print('the original')\n",
    "notes.txt": "the user's notes\n",
    "keep.txt": "keep me\n",
    "data/input.csv": "a,b\n1,2\n",
    "sub/mod.py": "VALUE = 1\n",
}


def test_a_candidate_that_writes_deletes_and_renames_leaves_the_workspace_unchanged(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    root = write_project(
        tmp_path / "ws",
        {
            **USERS_PROJECT,
            "tests/test_prog.py": VANDAL_TEST,
        },
    )
    before = _snapshot(root)
    check = _check(root, "prog.py", VANDAL, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == "vandalised\n"
    assert check.tests is not None and check.tests.ok, check.details
    assert check.passed_tests == 1
    assert _snapshot(root) == before


def test_a_run_cannot_unmount_the_overlay_to_reach_the_workspace(
    tmp_path: Path, write_config: WriteConfig, namespaces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run is not root where the overlay was mounted: the mount is locked for it."""
    program = """\
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        print(libc.umount2(os.getcwd().encode(), 2), os.getuid() == int(os.environ["REAL_UID"]))
        open("notes.txt", "w").write("reached the workspace")
        """
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n", "notes.txt": "mine\n"})
    monkeypatch.setenv("REAL_UID", str(os.getuid()))
    check = _check(root, "prog.py", program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout.split() == ["-1", "True"]
    assert (root / "notes.txt").read_text() == "mine\n"


# ---------------------------------------------------------------- nothing outlives the run


def test_a_double_forked_setsid_child_with_a_fresh_environment_ends_with_the_run(
    tmp_path: Path, write_config: WriteConfig, namespaces: None
) -> None:
    """The scratch copy cannot promise this (its child may leave the group and drop the mark
    from its environment); the PID namespace ends with its first process."""
    mark = new_mark()
    program = f"""\
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                code = "import time; time.sleep(60)"
                os.execve(sys.executable, [sys.executable, "-c", code, {mark!r}], {{}})
            os._exit(0)
        time.sleep(0.5)
        print("left a daemon behind")
        """
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    try:
        check = _check(root, "prog.py", program, _settings(write_config))
        assert check.run is not None and check.run.ok, check.details
        assert _wait_until(lambda: not marked(mark))
    finally:
        kill_marked(mark)


def _wait_until(predicate: Callable[[], bool], limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---------------------------------------------------------------- no network


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


CONNECT = """\
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
    print("connected")
except OSError as error:
    print("refused:", type(error).__name__)
"""


@pytest.mark.parametrize("network", [False, True])
def test_a_run_reaches_the_machines_loopback_only_with_fix_network(
    tmp_path: Path, write_config: WriteConfig, namespaces: None, listener: int, network: bool
) -> None:
    config = {"fix": {"network": network}, "run": {"python": ["{python}", "{file}", str(listener)]}}
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    check = _check(root, "prog.py", CONNECT, _settings(write_config, config))
    assert check.run is not None and check.run.ok, check.details
    assert (check.run.stdout == "connected\n") is network, check.run.stdout


def test_a_run_can_serve_and_connect_on_its_own_loopback(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    program = """\
        import socket
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        socket.create_connection(server.getsockname(), timeout=5).close()
        print("served")
        """
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    check = _check(root, "prog.py", program, _settings(write_config))
    assert check.run is not None and check.run.ok and check.run.stdout == "served\n", check.details


# ---------------------------------------------------------------- the project as the user sees it

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def area(width, height):\n    return width + height\n",
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef unit():\n    return 1\n",
    "tests/test_core.py": (
        "from pkg.core import area\n\ndef test_area(unit):\n    assert area(2, 3) == 6 * unit\n"
    ),
}


def test_a_package_module_is_verified_against_the_candidate_with_the_root_conftest(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    root = write_project(tmp_path / "ws", PACKAGE)
    settings = _settings(write_config)
    original = _check(root, "pkg/core.py", PACKAGE["pkg/core.py"], settings)
    assert original.tests is not None and not original.tests.ok
    assert original.failed_tests == 1 and "fixture 'unit' not found" not in original.details
    fixed = _check(
        root, "pkg/core.py", "def area(width, height):\n    return width * height\n", settings
    )
    assert fixed.tests is not None and fixed.tests.ok, fixed.details
    assert fixed.passed_names == {"tests/test_core.py::test_area"}
    assert (root / "pkg/core.py").read_text() == PACKAGE["pkg/core.py"]


def test_data_next_to_the_file_and_relative_paths_are_found(
    tmp_path: Path, write_config: WriteConfig, isolation: str
) -> None:
    root = write_project(
        tmp_path / "ws", {"app/reader.py": "pass\n", "app/data.txt": "beside", "top.txt": "top"}
    )
    program = """\
        import os
        print(open(os.path.join(os.path.dirname(__file__), "data.txt")).read())
        print(open("top.txt").read())
        """
    check = _check(root, "app/reader.py", program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout.split() == ["beside", "top"]


def test_the_projects_venv_is_used_for_runs(
    tmp_path: Path, write_config: WriteConfig, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    venv = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = venv.glob("lib/python*/site-packages")
    (site / "ce_only_in_the_venv").mkdir()
    (site / "ce_only_in_the_venv" / "__init__.py").write_text("WHERE = 'the project venv'\n")
    chosen = project_python(str(root))
    assert chosen.path == str(venv / "bin" / "python") and chosen.source.startswith(".venv")
    program = "import sys, ce_only_in_the_venv\nprint(ce_only_in_the_venv.WHERE, sys.prefix)\n"
    check = _check(root, "prog.py", program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout == f"the project venv {venv}\n"


def test_the_servers_own_libraries_stay_off_the_runs_path(
    tmp_path: Path, write_config: WriteConfig, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled, mine = tmp_path / "bundled-libs", tmp_path / "user-libs"
    bundled.mkdir()
    mine.mkdir()
    import code_evolver

    server_home = Path(code_evolver.__file__).resolve().parent.parent
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(bundled), str(mine), str(server_home)]))
    monkeypatch.setenv(BUNDLED_VARIABLE, str(bundled))
    entries = [str(bundled), str(mine), str(server_home)]
    # What the run's environment puts on its path (an editable install of the server adds
    # its own folder to every run of the same interpreter through a .pth file, which is the
    # interpreter's, not the environment's).
    program = (
        "import os\n"
        "path = os.environ.get('PYTHONPATH', '').split(os.pathsep)\n"
        f"print(*[entry in path for entry in {entries!r}])\n"
    )
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    check = _check(root, "prog.py", program, _settings(write_config))
    assert check.run is not None and check.run.ok, check.details
    assert check.run.stdout.split() == ["False", "True", "False"]


# ---------------------------------------------------------------- time under load

SLOW_TEST = "import time\n\ndef test_takes_a_second():\n    time.sleep(1)\n"
BUSY_AS_THE_WORKER = """\
import contextlib, os
os.nice(10)
with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
    group.write("10")
while True:
    pass
"""


def test_a_loaded_machine_does_not_turn_a_one_second_run_into_a_timeout(
    tmp_path: Path, write_config: WriteConfig, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_timeout is CPU time: a run that waits for the CPU (or sleeps) is not out of time."""
    # pytest's plugins of this environment alone take over a second of CPU to load.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    root = write_project(tmp_path / "ws", {"slow.py": "pass\n", "tests/test_slow.py": SLOW_TEST})
    # One core kept busy at the worker's priority (nice 10, in a session group of its own at
    # nice 10 too), shared with the runs: both inherit this thread's affinity. The runs wait
    # for the CPU most of the time, and the other test workers keep the other core.
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    busy = subprocess.Popen([sys.executable, "-c", BUSY_AS_THE_WORKER], start_new_session=True)
    try:
        check = _check(
            root,
            "slow.py",
            "import time\ntime.sleep(1)\nprint('done')\n",
            _settings(write_config, {"fix": {"run_timeout": 1}}),
        )
    finally:
        os.sched_setaffinity(0, saved)
        busy.kill()
        busy.wait()
    assert check.run is not None and check.run.ok, check.details
    assert check.tests is not None and check.tests.ok and check.passed_tests == 1, check.details


# ---------------------------------------------------------------- which isolation, and leftovers


def test_the_copy_fallback_is_forced_and_says_so(
    tmp_path: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORCE_VARIABLE, "copy")
    assert describe_isolation(isolation_in_force()) == f"copy: forced by {FORCE_VARIABLE}=copy"
    monkeypatch.delenv(FORCE_VARIABLE)
    found = isolation_in_force("copy")
    assert describe_isolation(found) == "copy: forced by fix.isolation: copy in config.yaml"
    assert _settings(write_config, {"fix": {"isolation": "copy"}}).fix.isolation == "copy"


def test_status_and_doctor_name_the_isolation_and_the_interpreter(
    tmp_path: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FORCE_VARIABLE, "copy")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    report = run_report(_settings(write_config), str(tmp_path))
    assert report[:2] == [  # the third line, the process limits: tests/test_process_limits.py
        f"isolation: copy: forced by {FORCE_VARIABLE}=copy",
        f"python: {sys.executable} (the interpreter Code Evolver runs on)",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "code_evolver", "status", "--config", str(write_config({}))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert f"isolation: copy: forced by {FORCE_VARIABLE}=copy\n" in done.stdout, done


def test_a_project_folder_overlayfs_cannot_name_is_copied_instead(
    tmp_path: Path, write_config: WriteConfig, namespaces: None
) -> None:
    root = write_project(tmp_path / "ws,1", {"prog.py": "pass\n", "data.txt": "found"})
    target = Target(str(root / "prog.py"), "python", str(root))
    with Checker(target, _settings(write_config)) as checker:
        check = checker.check("print(open('data.txt').read())\n")
        isolation = checker.sandbox.isolation
    assert check.run is not None and check.run.ok and check.run.stdout == "found\n", check.details
    assert isolation.kind == "copy" and "overlayfs cannot name" in isolation.reason


def test_a_configured_interpreter_that_is_missing_is_named(
    tmp_path: Path, write_config: WriteConfig
) -> None:
    root = write_project(tmp_path / "ws", {"prog.py": "pass\n"})
    settings = _settings(write_config, {"python": "no-such-env/bin/python"})
    check = _check(root, "prog.py", "print(1)\n", settings)
    assert check.run is not None and check.run.exit_code is None
    assert "the interpreter set by `python` (no-such-env/bin/python) does not exist" in (
        check.run.stderr
    )


def test_scratch_folders_of_dead_processes_are_swept_and_no_others(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead, alive, unmarked = (tmp_path / f"{PREFIX}{n}" for n in ("dead", "alive", "unmarked"))
    for folder in (dead, alive, unmarked):
        (folder / "run1").mkdir(parents=True)
    (dead / MARKER).write_text(f"{finished.stdout.strip()} 1\n")
    (alive / MARKER).write_text(f"{os.getpid()} -\n")
    (dead / "run1" / "locked").mkdir(mode=0)  # as overlayfs leaves its work folder
    assert sweep_dead(str(tmp_path)) == [str(dead)]
    assert not dead.exists() and alive.exists() and unmarked.exists()


def test_a_run_killed_by_a_signal_in_its_namespace_says_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mode("namespaces", monkeypatch)
    sandbox = Sandbox(str(tmp_path), isolation_in_force(), network=False)
    program = "import os, signal\nprint('before')\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    try:
        with sandbox.place({"prog.py": program}) as place:
            result = run_and_capture(
                [sys.executable, place.path("prog.py")], cwd=place.root, namespace=place.namespace
            )
    finally:
        sandbox.close()
    assert result.exit_code == -signal.SIGSEGV and result.stdout == "before\n"
    assert "was killed by SIGSEGV" in result.describe()


def test_a_namespace_that_cannot_be_set_up_says_why_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mode("namespaces", monkeypatch)
    marker = tmp_path / "ran"
    # An upper layer that does not exist: the overlay mount fails before the program starts.
    spec = NamespaceRun(str(tmp_path), str(tmp_path / "missing"), str(tmp_path / "gone"), False)
    result = run_and_capture(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w')"], cwd=str(tmp_path), namespace=spec
    )
    assert result.exit_code is None and not marker.exists()
    assert result.stderr.startswith(SETUP_FAILED), result.stderr
    assert f"the overlay of {tmp_path} could not be mounted" in result.stderr
    assert "mounted: mount: " in result.stderr  # and what mount itself said


SEE_ALL = """\
import json, os
seen = {}
for folder, folders, files in os.walk("."):
    for name in files:
        path = os.path.join(folder, name)
        seen[path] = open(path).read()
    for name in folders:
        seen[os.path.join(folder, name)] = oct(os.stat(os.path.join(folder, name)).st_mode & 0o700)
print(json.dumps(seen, sort_keys=True))
"""

WRECK = """\
import os, shutil
open("notes.txt", "w").write("overwritten")
os.remove("keep.txt")
os.rename("data/input.csv", "data/moved.csv")
os.mkdir("made"); open("made/x.txt", "w").write("x")
os.remove("sub/mod.py"); os.mkdir("sub/mod.py")
os.chmod("data", 0)
open(".venv_of_the_run", "w").write("junk")
"""


def test_a_later_run_never_sees_what_an_earlier_one_did_and_sees_the_users_edits(
    tmp_path: Path, isolation: str
) -> None:
    root = write_project(tmp_path / "ws", USERS_PROJECT)
    sandbox = Sandbox(str(root), isolation_in_force(), network=False)

    def run(program: str) -> str:
        with sandbox.place({"prog.py": program}) as place:
            done = run_and_capture(
                [sys.executable, place.path("prog.py")],
                cwd=place.root,
                namespace=place.namespace,
            )
        assert done.ok, done
        return done.stdout

    try:
        first = run(SEE_ALL)
        run(WRECK)
        assert run(SEE_ALL) == first
        (root / "notes.txt").write_text("edited by the user\n")
        (root / "sub" / "new.py").write_text("NEW = 2\n")
        (root / "keep.txt").unlink()
        after_edit = json.loads(run(SEE_ALL))
    finally:
        sandbox.close()
    assert after_edit["./notes.txt"] == "edited by the user\n"
    assert after_edit["./sub/new.py"] == "NEW = 2\n"
    assert "./keep.txt" not in after_edit
    assert after_edit["./prog.py"] == SEE_ALL


def test_a_projects_own_mount_or_unshare_does_not_set_up_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `.venv/bin` first on the run's PATH holding `mount` and `unshare` is not used for the
    sandbox: the overlay is still mounted, so the run's write stays out of the project."""
    use_mode("namespaces", monkeypatch)
    project, shadow = tmp_path / "ws", tmp_path / "ws" / ".venv" / "bin"
    shadow.mkdir(parents=True)
    marker = tmp_path / "shadow-ran"
    for name in ("mount", "unshare"):
        tool = shadow / name
        tool.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
        tool.chmod(0o755)
    sandbox = Sandbox(str(project), isolation_in_force(), network=False)
    program = "open('written.txt', 'w').write('x')\nprint('ran')\n"
    env = {**os.environ, "PATH": f"{shadow}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        with sandbox.place({"prog.py": program}) as place:
            done = run_and_capture(
                [sys.executable, place.path("prog.py")],
                cwd=place.root,
                env=env,
                namespace=place.namespace,
            )
    finally:
        sandbox.close()
    assert done.ok and done.stdout == "ran\n", done
    assert not marker.exists() and not (project / "written.txt").exists()
