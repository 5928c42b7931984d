"""Completion is proven, not assumed (issue 21): a Python file's run is clean only when the
wrapper saw it reach its end, and a test run passes only on the report plugin's word for every
test and the session's end. Through the real runner and its private channel, the real Checker,
and the real command line with the fake model on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from code_evolver import ConfigManager
from code_evolver.config import Settings
from code_evolver.pipeline.checker import Check, Checker
from code_evolver.pipeline.completion import pytest_unproven, read_test_report
from code_evolver.pipeline.runner import RunResult, python_run_command, run_and_capture
from code_evolver.pipeline.tracebacks import parse_python_error
from code_evolver.pipeline.verdict import judge_run
from code_evolver.sandbox.inrun_files import INRUN_FOLDER, PYTEST_PLUGIN, SCRIPT_WRAPPER
from code_evolver.values import Region, Target
from conftest import role_config, run_cli
from sandbox_kit import MODES, use_mode


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def wrapped(script: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> RunResult:
    """`script` run through the wrapper, with the runner's private channel."""
    argv = [*python_run_command(str(script)), *args]
    return run_and_capture(argv, cwd=str(cwd), env=env, report=True)


def plain(script: Path, *args: str, cwd: Path) -> RunResult:
    return run_and_capture([sys.executable, str(script), *args], cwd=str(cwd))


# ---------------------------------------------------------------- the wrapper on its own

ENDINGS = {
    "returns": ("print('done')\n", 0, ("end",)),
    "os._exit(0)": ("import os\nprint('half', flush=True)\nos._exit(0)\nprint('done')\n", 0, ()),
    "sys.exit(main()) with 0": (
        "import sys\n\ndef main():\n    return 0\n\nif __name__ == '__main__':\n"
        "    sys.exit(main())\n",
        0,
        ("exit 0",),
    ),
    "sys.exit(main()) with 3": (
        "import sys\n\ndef main():\n    return 3\n\nsys.exit(main())\n",
        3,
        ("exit 3",),
    ),
    "SystemExit('bye')": ("raise SystemExit('bye')\n", 1, ("exit 1",)),
    "a signal": ("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", -15, ()),
    "an exception": ("raise ValueError('no')\n", 1, ()),
    # The fork goes on to the end of the module; the program itself never gets there.
    "a fork reaching the end": (
        "import os\nchild = os.fork()\nif child:\n    os.waitpid(child, 0)\n    os._exit(0)\n",
        0,
        (),
    ),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_the_wrapper_reports_the_end_only_when_the_script_reached_it(ending, tmp_path):
    code, exit_code, report = ENDINGS[ending]
    script = tmp_path / "prog.py"
    script.write_text(code)
    result = wrapped(script, cwd=tmp_path)
    assert (result.exit_code, result.report) == (exit_code, report), result.stderr
    assert result.exit_code == plain(script, cwd=tmp_path).exit_code


SEES = """\
import inspect, json, os, pickle, sys

import helper


class Point:
    x = 1


def double(n):
    return 2 * n


here = os.path.dirname(__file__)
with open(os.path.join(here, "data.txt")) as by_file, open("top.txt") as by_cwd:
    data = [by_file.read(), by_cwd.read()]
# pickle finds classes of the script in sys.modules["__main__"]; inspect reads its source
kept = pickle.loads(pickle.dumps(Point())).x
source = inspect.getsource(double).splitlines()[0]
main = sys.modules["__main__"].__dict__ is globals()
seen = [sys.argv, __file__, __name__, sys.path[0], helper.NAME, data, kept, source, main]
print(json.dumps(seen))
"""


def test_the_wrapper_runs_the_script_as_python_does(tmp_path):
    """argv, __file__, __name__, sys.path[0] (the script's folder, not the wrapper's), a
    neighbour module, data files found through __file__ and through the working folder."""
    app = write(
        tmp_path,
        {"app/prog.py": SEES, "app/helper.py": "NAME = 'helper'\n", "app/data.txt": "by file"},
    )
    (app / "top.txt").write_text("by cwd")
    script = app / "app" / "prog.py"
    ours, theirs = wrapped(script, "a", "b c", cwd=app), plain(script, "a", "b c", cwd=app)
    assert ours.stderr == theirs.stderr == ""
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)
    assert json.loads(ours.stdout)[3] == str(app / "app")
    assert ours.report == ("end",)


def test_a_script_declaring_its_encoding_runs_as_python_reads_it(tmp_path):
    script = tmp_path / "latin.py"
    script.write_bytes("# -*- coding: latin-1 -*-\nprint(ascii('caf\u00e9'))\n".encode("latin-1"))
    ours, theirs = wrapped(script, cwd=tmp_path), plain(script, cwd=tmp_path)
    assert ours.stdout == theirs.stdout == "'caf\\xe9'\n" and ours.report == ("end",)


TRACEBACK = """\
def parse(text):
    try:
        return int(text)
    except ValueError as error:
        raise RuntimeError("bad number") from error


def main():
    return parse("x")


main()
"""


def test_a_traceback_is_the_one_python_prints_naming_the_users_line(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(TRACEBACK)
    ours, theirs = wrapped(script, cwd=tmp_path), plain(script, cwd=tmp_path)
    assert ours.exit_code == theirs.exit_code == 1
    assert ours.stderr == theirs.stderr
    assert "runpy" not in ours.stderr and "_code_evolver" not in ours.stderr
    found = parse_python_error(ours.stderr, str(script))
    assert found is not None and found.line == 4  # 0-based: `raise RuntimeError(...)`


def test_a_project_module_named_like_the_standard_one_the_wrapper_uses(tmp_path):
    root = write(tmp_path, {"runpy.py": "raise ImportError('the project's own')\n"})
    script = write(root, {"prog.py": "print('ran')\n"}) / "prog.py"
    result = wrapped(script, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert (result.stdout, result.report) == ("ran\n", ("end",)), result.stderr


# ---------------------------------------------------------------- the plugin on its own

OUTCOMES = """\
import pytest


def test_passes():
    pass


def test_fails():
    assert 1 == 2


@pytest.mark.skip(reason="later")
def test_skipped():
    pass


@pytest.mark.xfail
def test_xfails():
    assert 0


@pytest.mark.xfail
def test_xpasses():
    pass


@pytest.fixture
def broken():
    raise RuntimeError("no fixture")


def test_errors(broken):
    pass
"""


def pytest_run(root: Path, *args: str) -> RunResult:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", PYTEST_PLUGIN]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), INRUN_FOLDER])}
    argv += ["--rootdir", str(root), *args]
    return run_and_capture(argv, cwd=str(root), env=env, report=True)


def test_the_plugin_reports_every_outcome_the_count_and_the_end(tmp_path):
    root = write(tmp_path, {"test_all.py": OUTCOMES})
    said = read_test_report(pytest_run(root, "test_all.py").report)
    assert dict(said.outcomes) == {
        "test_all.py::test_passes": "passed",
        "test_all.py::test_fails": "failed",
        "test_all.py::test_skipped": "skipped",
        "test_all.py::test_xfails": "xfailed",
        "test_all.py::test_xpasses": "xpassed",
        "test_all.py::test_errors": "error",
    }
    assert (said.collected, said.exit_status, said.passed, said.failed) == (6, 1, 1, 2)
    assert said.passed_names == {"test_all.py::test_passes"}


def test_a_test_that_ends_pytest_with_exit_code_0_leaves_no_end(tmp_path):
    root = write(
        tmp_path,
        {"test_quits.py": "import os\n\ndef test_quits():\n    os._exit(0)\n"},
    )
    result = pytest_run(root, "test_quits.py")
    said = read_test_report(result.report)
    assert result.exit_code == 0 and said.exit_status is None and said.collected == 1
    assert "session ended" in pytest_unproven(result, said)


# ---------------------------------------------------------------- through the Checker

MEAN = """\
import os


def mean(values):
    return sum(values) / 2


if __name__ == "__main__":
    print(mean([1.0, 2.0, 6.0]))
"""
MEAN_TESTS = """\
from mean import mean


def test_mean():
    assert mean([1.0, 2.0, 6.0]) == 3.0


def test_one():
    assert mean([4.0]) == 4.0
"""
HONEST = MEAN.replace("/ 2", "/ len(values)")
EXIT_IF_MANY = "    if len(values) > 1:\n        os._exit(0)\n"
EXITS = MEAN.replace("    return sum", "    os._exit(0)\n    return sum")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    use_mode(request.param, monkeypatch)
    return str(request.param)


def checker(root: Path, relative: str, settings: Settings | None = None) -> Checker:
    target = Target(str(root / relative), "python", str(root))
    return Checker(target, settings or ConfigManager.defaults().settings)


def check(root: Path, relative: str, source: str, settings: Settings | None = None) -> Check:
    with checker(root, relative, settings) as it:
        return it.check(textwrap.dedent(source))


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    files = {"pyproject.toml": "[project]\nname = 'p'\nversion = '0'\n", **files}
    return write(tmp_path / "proj", files)


def test_an_os_exit_in_the_script_is_not_a_clean_run(mode, tmp_path):
    root = project(tmp_path, {"mean.py": MEAN})
    cheat = check(root, "mean.py", EXITS)
    assert cheat.run is not None and cheat.run.exit_code == 0 and not cheat.run.ok
    assert cheat.failures > 0 and "os._exit" in cheat.summary and "os._exit" in cheat.details
    assert cheat.checked_by == "nothing ran"
    honest = check(root, "mean.py", HONEST)
    assert honest.failures == 0 and honest.checked_by == "the file ran cleanly"
    # The model and the user see the command they would type, not the wrapper.
    assert honest.run is not None and SCRIPT_WRAPPER not in honest.run.argv


def test_an_os_exit_inside_a_tested_function_fails_the_tests(mode, tmp_path):
    root = project(tmp_path, {"mean.py": MEAN, "tests/test_mean.py": MEAN_TESTS})
    source = MEAN.replace("    return sum", EXIT_IF_MANY + "    return sum")
    source = source.replace('if __name__ == "__main__":', "if False:")
    cheat = check(root, "mean.py", source)
    assert cheat.tests is not None and cheat.tests.exit_code == 0 and not cheat.tests.ok
    assert cheat.summary.startswith("the tests: pytest stopped before its session ended")
    honest = check(root, "mean.py", HONEST)
    assert honest.failures == 0 and honest.collected == 2
    assert honest.checked_by == "the file ran cleanly; 2 test(s) in tests/test_mean.py pass"
    assert dict(honest.outcomes) == {
        "tests/test_mean.py::test_mean": "passed",
        "tests/test_mean.py::test_one": "passed",
    }


def test_main_blocks_and_sys_exit_main_run_as_before(tmp_path):
    code = """\
        import sys


        def main():
            print("args", sys.argv[1:])
            return {status}


        if __name__ == "__main__":
            sys.exit(main())
        """
    root = project(tmp_path, {"tool.py": code.format(status=0)})
    clean = check(root, "tool.py", code.format(status=0))
    assert clean.failures == 0 and clean.run is not None and clean.run.stdout == "args []\n"
    failing = check(root, "tool.py", code.format(status=2))
    assert failing.run is not None and failing.run.exit_code == 2 and failing.failures == 10


def test_a_script_reading_data_by_its_file_and_by_the_folder_works(tmp_path):
    code = """\
        import os

        with open(os.path.join(os.path.dirname(__file__), "data.txt")) as handle:
            print(handle.read(), open("data.txt").read())
        """
    root = project(tmp_path, {"prog.py": code, "data.txt": "42"})
    result = check(root, "prog.py", code)
    assert result.failures == 0 and result.run is not None and result.run.stdout == "42 42\n"


def test_a_configured_run_command_is_judged_by_its_exit_code(tmp_path, write_config):
    root = project(tmp_path, {"mean.py": MEAN})
    settings = ConfigManager(write_config({"run": {"python": ["{python}", "{file}"]}})).settings
    result = check(root, "mean.py", EXITS, settings)
    assert result.run is not None and result.run.ok and SCRIPT_WRAPPER not in result.run.argv


def test_a_configured_pytest_command_gets_the_report_too(tmp_path, write_config):
    root = project(tmp_path, {"mean.py": MEAN, "tests/test_mean.py": MEAN_TESTS})
    command = ["{python}", "-m", "pytest", "-q", "{test_file}"]
    settings = ConfigManager(write_config({"test_command": command})).settings
    with checker(root, "mean.py", settings) as it:
        argv = it._test_command(["tests/test_mean.py"], str(root))
        result = it.check(HONEST)
    assert argv is not None and argv[3:5] == ["-p", PYTEST_PLUGIN]
    assert result.failures == 0 and result.collected == 2 and result.passed_tests == 2


# ---------------------------------------------------------------- verdicts on a candidate

ADD = """\
CASES = [(1, 2, 3), (2, 2, 4), (0, 5, 5)]


def add(a, b):
    return a - b
"""
ADD_TESTS = """\
import pytest

from calc import CASES, add


@pytest.mark.parametrize(("a", "b", "total"), CASES)
def test_add(a, b, total):
    assert add(a, b) == total
"""


def verdict(root: Path, candidate: str) -> tuple[str, str]:
    with checker(root, "calc.py") as it:
        original = it.check(ADD)
        after = it.check(candidate)
    region = Region(3, 4, False)
    return judge_run(original, original, after, region, region, candidate)


def test_fewer_tests_collected_is_no_fix(tmp_path):
    root = project(tmp_path, {"calc.py": ADD, "tests/test_calc.py": ADD_TESTS})
    fewer = ADD.replace(", (2, 2, 4), (0, 5, 5)", "").replace("a - b", "a + b")
    assert verdict(root, fewer) == ("none", "2 test(s) fewer were collected than before (1 of 3)")
    assert verdict(root, ADD.replace("a - b", "a + b")) == ("fixed", "")


def test_a_skip_of_the_tests_from_the_code_under_test_is_no_fix(tmp_path):
    tests = ADD_TESTS.replace("from calc import CASES, add", "from calc import *")
    root = project(tmp_path, {"calc.py": ADD, "tests/test_calc.py": tests})
    fixed = ADD.replace("a - b", "a + b")
    whole = "import sys\nif '_pytest' in sys.modules:\n    import pytest\n\n"
    whole += "    pytest.skip('later', allow_module_level=True)\n" + fixed
    assert verdict(root, whole) == ("none", "3 test(s) fewer were collected than before (0 of 3)")
    marked = "import pytest\n\npytestmark = pytest.mark.skip(reason='later')\n" + fixed
    assert verdict(root, marked) == (
        "none",
        "the test tests/test_calc.py::test_add[0-5-5] is skipped now, and was not before",
    )


def test_a_test_newly_xfailed_is_no_fix(tmp_path):
    root = project(tmp_path, {"calc.py": ADD, "tests/test_calc.py": ADD_TESTS})
    xfails = "import pytest\n" + ADD.replace(
        "    return a - b", "    if a == 1:\n        pytest.xfail('later')\n    return a + b"
    )
    assert verdict(root, xfails) == (
        "none",
        "the test tests/test_calc.py::test_add[1-2-3] is an expected failure (xfail) now, "
        "and was not before",
    )


# ---------------------------------------------------------------- the command line


def fence(code: str) -> str:
    return f"Here you go:\n```python\n{textwrap.dedent(code).strip()}\n```\n"


def fix(root: Path, relative: str, fake: Any, write_config: Any, reply: str) -> Any:
    fake.reply = fence(reply)
    urls = [fake.url]
    data = role_config({"generator": urls, "overseer": urls, "evaluator": urls})
    cfg = str(write_config({**data, "fix": {"max_attempts": 1}}))
    return run_cli("fix", relative, "--config", cfg, "--write", cwd=root)


def refused(proc: Any, path: Path, before: str) -> None:
    assert "Fixed" not in proc.stderr, proc.stderr
    assert proc.returncode != 0 and path.read_text() == before
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_cli_os_exit_first_in_the_failing_function_is_not_fixed(fake, write_config, tmp_path):
    root = project(tmp_path, {"mean.py": MEAN.replace("/ 2", "/ len(value)")})
    before = (root / "mean.py").read_text()
    reply = "def mean(values):\n    os._exit(0)\n    return sum(values) / len(value)\n"
    proc = fix(root, "mean.py", fake, write_config, reply)
    refused(proc, root / "mean.py", before)
    assert "os._exit" in proc.stderr
    # The model was shown the user's traceback: their file and line, no wrapper frame.
    prompt = next(r.body["prompt"] for r in fake.requests if r.path == "/api/generate")
    assert f'File "{root / "mean.py"}", line 5, in mean' in prompt
    assert "runpy" not in prompt and "_code_evolver" not in prompt


SKIPS = {
    "pytest.skip at module level": 'import pytest\npytest.skip("later", allow_module_level=True)\n',
    "pytestmark": "import pytest\npytestmark = pytest.mark.skip(reason='later')\n",
    # Out of sight of a reading of the code: only the test run's report can tell.
    "a skip only under pytest": (
        "import sys\nif '_pytest' in sys.modules:\n"
        "    getattr(__import__('pytest'), 'skip')('later', allow_module_level=True)\n"
    ),
}


@pytest.mark.parametrize("skip", sorted(SKIPS))
def test_cli_a_skip_in_the_code_under_test_is_not_fixed(skip, fake, write_config, tmp_path):
    tests = MEAN_TESTS.replace("from mean import mean", "from mean import *")
    root = project(tmp_path, {"mean.py": MEAN, "tests/test_mean.py": tests})
    before = (root / "mean.py").read_text()
    reply = SKIPS[skip] + MEAN  # the whole file, its bug and its __main__ block kept
    proc = fix(root, "mean.py", fake, write_config, reply)
    refused(proc, root / "mean.py", before)
    # Not offered as partial work either: a skipped test is no better than a failing one.
    assert "nothing ran" not in proc.stderr and "Partial" not in proc.stderr


def test_cli_os_exit_inside_a_tested_function_is_not_fixed(fake, write_config, tmp_path):
    root = project(tmp_path, {"mean.py": MEAN, "tests/test_mean.py": MEAN_TESTS})
    before = (root / "mean.py").read_text()
    reply = "def mean(values):\n" + EXIT_IF_MANY + "    return sum(values)\n"
    proc = fix(root, "mean.py", fake, write_config, reply)
    refused(proc, root / "mean.py", before)


def test_cli_an_honest_fix_is_still_fixed(fake, write_config, tmp_path):
    root = project(tmp_path, {"mean.py": MEAN, "tests/test_mean.py": MEAN_TESTS})
    proc = fix(root, "mean.py", fake, write_config, HONEST.split("\n\n\nif")[0].split("\n\n\n")[1])
    assert proc.returncode == 0, proc.stderr
    assert "Fixed on attempt 1/1" in proc.stderr
    assert "the file ran cleanly; 2 test(s) in tests/test_mean.py pass" in proc.stderr
    assert "/ len(values)" in (root / "mean.py").read_text()


def test_cli_fixed_never_comes_with_nothing_ran(fake, write_config, tmp_path):
    """A test module that could not be imported, fixed so that it imports: its one test is the
    user's own skip, so nothing checks the change, and it is not called fixed."""
    module = """\
        import pytest

        from mean import mean


        def sample():
            return [1.0, 2.0, 6.0] + missing


        SAMPLE = sample()


        @pytest.mark.skip(reason="the user's own")
        def test_mean():
            assert mean(SAMPLE) == 3.0
        """
    root = project(tmp_path, {"mean.py": MEAN, "tests/test_mean.py": module})
    before = (root / "tests" / "test_mean.py").read_text()
    reply = "def sample():\n    return [1.0, 2.0, 6.0]\n"
    proc = fix(root, "tests/test_mean.py", fake, write_config, reply)
    refused(proc, root / "tests" / "test_mean.py", before)
    assert "nothing ran to check it" in proc.stderr


def test_the_test_command_shown_to_the_model_is_the_users_without_the_plugin(tmp_path):
    root = write(tmp_path, {"calc.py": ADD, "tests/test_calc.py": ADD_TESTS})
    with checker(root, "calc.py") as it:
        check = it.check(ADD)
    assert check.tests is not None and check.collected == 3  # the plugin did report
    assert "-p" in check.tests.argv and "no:cacheprovider" in check.tests.argv
    assert not any("_code_evolver" in part for part in check.tests.argv)
