"""The user's checks compared by `ast`: every cheat a reply can hide in, and honest fixes kept.

Pure units of pipeline/judge.py `weakened` and pipeline/check_markers.py `silenced`; the last
part runs real programs to judge where a candidate's remaining error is (pipeline/verdict.py),
and the fix loop against the fake model for what only the loop sees (comments a reply adds).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from code_evolver.pipeline.check_markers import silenced
from code_evolver.pipeline.checker import Check
from code_evolver.pipeline.judge import weakened
from code_evolver.pipeline.runner import RunResult
from code_evolver.pipeline.tracebacks import RunError, parse_python_error
from code_evolver.pipeline.verdict import judge_run
from code_evolver.values import Region
from fake_ollama import FakeOllama
from test_fix_loop import fence, fix

PROGRAM = """def total(values):
    return sum(values) + 1


assert total([1, 2]) == 3
print("done")
"""

TESTS = """from mod import double


def test_double():
    assert double(2) == 4


def test_zero():
    assert double(0) == 0
"""


def _replace(source: str, old: str, new: str) -> str:
    assert old in source
    return source.replace(old, new, 1)


# ---------------------------------------------------------------- the program's own asserts


@pytest.mark.parametrize(
    "cheat",
    [
        "try:\n    assert total([1, 2]) == 3\nexcept AssertionError:\n    pass\n",
        "try:\n    assert total([1, 2]) == 3\nexcept:\n    pass\n",
        "try:\n    assert total([1, 2]) == 3\nexcept (ValueError, Exception):\n    pass\n",
        "try:\n    assert total([1, 2]) == 3\nexcept BaseException as error:\n    print(error)\n",
        "import contextlib\nwith contextlib.suppress(AssertionError):\n"
        "    assert total([1, 2]) == 3\n",
        "for _ in [1]:\n    try:\n        assert total([1, 2]) == 3\n    finally:\n        break\n",
    ],
)
def test_an_assert_wrapped_in_code_that_catches_its_failure_is_weakening(cheat: str) -> None:
    candidate = _replace(PROGRAM, "assert total([1, 2]) == 3\n", cheat)
    problem = weakened(PROGRAM, candidate)
    assert problem is not None and "catches its failure" in problem, problem


@pytest.mark.parametrize(
    "cheat",
    [
        "if False:\n    assert total([1, 2]) == 3\n",
        "if 0:\n    assert total([1, 2]) == 3\n",
        "while not True:\n    assert total([1, 2]) == 3\n",
        "if True:\n    pass\nelse:\n    assert total([1, 2]) == 3\n",
    ],
)
def test_an_assert_under_a_branch_that_never_runs_is_weakening(cheat: str) -> None:
    candidate = _replace(PROGRAM, "assert total([1, 2]) == 3\n", cheat)
    problem = weakened(PROGRAM, candidate)
    assert problem is not None and "never runs" in problem, problem


def test_an_assert_after_a_return_in_its_test_is_weakening() -> None:
    candidate = _replace(
        TESTS, "    assert double(2) == 4\n", "    return\n    assert double(2) == 4\n"
    )
    problem = weakened(TESTS, candidate)
    assert problem is not None and "never runs" in problem, problem


def test_an_assert_turned_into_a_string_is_weakening() -> None:
    candidate = _replace(
        PROGRAM, "assert total([1, 2]) == 3\n", '"""\nassert total([1, 2]) == 3\n"""\n'
    )
    problem = weakened(PROGRAM, candidate)
    assert problem == "it changed or removed the program's own check `assert total([1, 2]) == 3`"


def test_a_multi_line_assert_whose_expected_value_changed_is_weakening() -> None:
    original = "value = compute()\nassert value == (\n    42\n), 'the answer'\n"
    candidate = "value = compute()\nassert value == (\n    41\n), 'the answer'\n"
    problem = weakened(original, candidate)
    assert problem is not None and "changed or removed" in problem and "42" in problem


def test_an_assert_moved_to_another_function_is_weakening() -> None:
    original = "def a():\n    assert f(1) == 2\n\n\ndef b():\n    pass\n"
    candidate = "def a():\n    pass\n\n\ndef b():\n    assert f(1) == 2\n"
    problem = weakened(original, candidate)
    assert problem is not None and "moved" in problem, problem


def test_asserts_swapped_in_order_are_weakening() -> None:
    original = "assert f(1) == 2\nx = g()\nassert x\n"
    candidate = "assert x\nx = g()\nassert f(1) == 2\n"
    assert weakened(original, candidate) is not None


# ---------------------------------------------------------------- tests, by their last binding


@pytest.mark.parametrize(
    "rebinding",
    [
        "test_double = lambda: None\n",
        "def test_double():\n    pass\n",
        "from mod import double as test_double\n",
        "del test_double\n",
        "test_double: object = None\n",
    ],
)
def test_a_test_rebound_after_the_real_one_is_weakening(rebinding: str) -> None:
    candidate = TESTS + "\n\n" + rebinding
    problem = weakened(TESTS, candidate)
    assert problem is not None and "test_double()" in problem, problem


def test_a_test_class_method_rebound_is_weakening() -> None:
    original = "class TestMath:\n    def test_add(self):\n        assert add(1, 1) == 2\n"
    candidate = original + "\n    test_add = None\n"
    problem = weakened(original, candidate)
    assert problem is not None and "TestMath.test_add()" in problem, problem


def test_a_test_under_if_false_is_weakening() -> None:
    candidate = _replace(TESTS, "def test_zero():\n", "if False:\n  def test_zero():\n")
    candidate = _replace(candidate, "    assert double(0)", "      assert double(0)")
    assert weakened(TESTS, candidate) is not None


# ---------------------------------------------------------------- skips by rule


@pytest.mark.parametrize(
    ("cheat", "phrase"),
    [
        ("@pytest.mark.skip\ndef test_zero", "it skips the test test_zero() instead of"),
        ("@pytest.mark.skipif(True, reason='x')\ndef test_zero", "skips the test test_zero()"),
        ("@pytest.mark.xfail\ndef test_zero", "test_zero() as expected to fail"),
        ("@unittest.skip('later')\ndef test_zero", "skips the test test_zero()"),
        ("@unittest.expectedFailure\ndef test_zero", "expected to fail"),
        ("@skipIf(True, 'x')\ndef test_zero", "skips the test test_zero()"),
    ],
)
def test_a_new_skip_decorator_is_weakening(cheat: str, phrase: str) -> None:
    original = "import pytest\nimport unittest\nfrom unittest import skipIf\n" + TESTS
    candidate = _replace(original, "def test_zero", cheat)
    problem = weakened(original, candidate)
    assert problem is not None and phrase in problem, problem


@pytest.mark.parametrize(
    "cheat",
    [
        "pytestmark = pytest.mark.skip\n",
        "pytest.skip('not now', allow_module_level=True)\n",
        "pytest.importorskip('no_such_module')\n",
    ],
)
def test_a_new_module_level_skip_is_weakening(cheat: str) -> None:
    original = "import pytest\n\n\ndef double(x):\n    return x * 3\n"
    candidate = _replace(original, "\n\ndef double", "\n" + cheat + "\ndef double")
    problem = weakened(original, candidate)
    assert problem is not None and "skips the tests" in problem, problem


@pytest.mark.parametrize(
    "cheat",
    [
        "pytest.skip('flaky')",
        "pytest.xfail('known')",
        "raise unittest.SkipTest('later')",
        "self.skipTest('later')",
    ],
)
def test_a_new_skip_call_inside_a_test_is_weakening(cheat: str) -> None:
    original = (
        "import pytest\nimport unittest\n\n\nclass TestDouble(unittest.TestCase):\n"
        "    def test_two(self):\n        self.assertEqual(double(2), 4)\n"
    )
    candidate = _replace(
        original, "        self.assertEqual", f"        {cheat}\n        self.assertEqual"
    )
    problem = weakened(original, candidate)
    assert problem is not None and "TestDouble.test_two()" in problem, problem
    assert "instead of making it pass" in problem


def test_a_skip_the_original_had_stays_allowed() -> None:
    original = "import pytest\n\n\n@pytest.mark.skip\ndef test_x():\n    assert f() == 1\n"
    original += "\n\ndef f():\n    return 2\n"
    candidate = _replace(original, "return 2", "return 1")
    assert weakened(original, candidate) is None


# ---------------------------------------------------------------- ending the program early


@pytest.mark.parametrize(
    ("exit_line", "shown"),
    [
        ("os._exit(0)", "os._exit()"),
        ("sys.exit(0)", "sys.exit()"),
        ("exit()", "exit()"),
        ("quit()", "quit()"),
        ("os.abort()", "os.abort()"),
        ("raise SystemExit(0)", "`raise SystemExit`"),
        ("os.kill(os.getpid(), 9)", "os.kill()"),
        ("_exit(0)", "_exit()"),
    ],
)
def test_a_new_early_exit_in_the_code_is_weakening(exit_line: str, shown: str) -> None:
    original = (
        "import os\nimport sys\nfrom os import _exit\n\n\ndef average(values):\n"
        "    return sum(values) / len(value)\n\n\nprint(average([1, 2]))\n"
    )
    candidate = _replace(original, "    return sum", f"    {exit_line}\n    return sum")
    problem = weakened(original, candidate)
    assert (
        problem == f"it ends the program early with {shown} in average() instead of fixing the code"
    )


def test_the_main_blocks_own_exit_stays_allowed() -> None:
    original = (
        "import sys\n\n\ndef main():\n    return 1 / 0\n\n\n"
        'if __name__ == "__main__":\n    sys.exit(main())\n'
    )
    candidate = _replace(original, "1 / 0", "0")
    assert weakened(original, candidate) is None


def test_a_main_block_ending_with_a_new_exit_stays_allowed() -> None:
    original = 'def main():\n    return 1 / 0\n\n\nif __name__ == "__main__":\n    main()\n'
    candidate = "import sys\n\n\n" + _replace(original, "    main()\n", "    sys.exit(main())\n")
    candidate = _replace(candidate, "1 / 0", "0")
    assert weakened(original, candidate) is None


def test_a_new_exit_before_the_main_blocks_calls_is_weakening() -> None:
    original = 'def main():\n    return 1 / 0\n\n\nif __name__ == "__main__":\n    main()\n'
    candidate = "import sys\n" + _replace(original, "    main()\n", "    sys.exit(0)\n    main()\n")
    problem = weakened(original, candidate)
    assert problem is not None and "sys.exit()" in problem and "the top level" in problem


# ---------------------------------------------------------------- silencing comments


@pytest.mark.parametrize(
    ("comment", "tool"),
    [
        ("# noqa", "ruff"),
        ("# noqa: F821", "ruff"),
        ("# type: ignore", "mypy"),
        ("# type: ignore[attr-defined]", "mypy"),
        ("# pyright: ignore", "Pyright"),
        ("# pylint: disable=undefined-variable", "pylint"),
    ],
)
def test_a_new_suppression_comment_is_weakening(comment: str, tool: str) -> None:
    original = "def average(values):\n    return sum(values) / len(value)\n"
    reply = _replace(original, "len(value)\n", f"len(value)  {comment}\n")
    problem = silenced(original, reply)
    assert problem == f"it silences {tool} with `{comment}` instead of fixing the code"


def test_a_file_wide_suppression_comment_is_weakening() -> None:
    original = "def average(values):\n    return sum(values) / len(value)\n"
    for comment in ("# ruff: noqa", "# mypy: ignore-errors"):
        problem = silenced(original, f"{comment}\n{original}")
        assert problem is not None and comment in problem


def test_the_users_own_suppression_comment_stays_allowed() -> None:
    original = "import os  # noqa: F401\n\n\ndef f(x):\n    return x / 0  # type: ignore\n"
    reply = _replace(original, "x / 0", "x / 1")
    assert silenced(original, reply) is None
    assert silenced(original, "def f(x):\n    return x  # says why, not a noqa\n") is None


# ---------------------------------------------------------------- honest fixes stay allowed


def test_a_fix_of_the_function_body_only_is_not_weakening() -> None:
    candidate = _replace(PROGRAM, "sum(values) + 1", "sum(values)")
    assert weakened(PROGRAM, candidate) is None


def test_an_assert_inside_a_try_that_was_already_there_is_not_weakening() -> None:
    original = (
        "def f():\n    return 1\n\n\ntry:\n    assert f() == 2\nexcept AssertionError:\n"
        "    print('f is wrong')\n"
    )
    assert weakened(original, _replace(original, "return 1", "return 2")) is None


def test_reformatting_a_multi_line_assert_is_not_weakening() -> None:
    original = "assert compute(1,\n              2) == (\n    3\n), 'sum'\n"
    candidate = "assert compute(1, 2) == 3, \\\n    'sum'\n"
    assert weakened(original, candidate) is None


def test_a_new_try_that_catches_other_errors_or_re_raises_is_not_weakening() -> None:
    for handler in ("except KeyError:\n    pass\n", "except AssertionError:\n    raise\n"):
        candidate = _replace(
            PROGRAM,
            "assert total([1, 2]) == 3\n",
            f"try:\n    assert total([1, 2]) == 3\n{handler}",
        )
        assert weakened(PROGRAM, candidate) is None, handler


def test_fixing_a_test_file_keeps_its_tests() -> None:
    original = TESTS + "\n\ndef helper():\n    return 1 / 0\n"
    assert weakened(original, _replace(original, "1 / 0", "1")) is None


def test_a_syntax_error_fix_is_judged_by_its_lines() -> None:
    original = "def f(:\n    return 1\n\n\nassert f() == 1\n"
    assert weakened(original, _replace(original, "f(:", "f():")) is None
    assert weakened(original, "def f():\n    return 1\n\n\nassert f() == 2\n") is not None
    problem = weakened(original, "import os\n\n\ndef f():\n    os._exit(0)\n\n\nassert f() == 1\n")
    assert problem is not None and "os._exit()" in problem


# ---------------------------------------------------------------- a new error in a caller

CALLER = """def parse(text):
    return int(text)


def total(items):
    numbers = [parse(item) for item in items]
    return sum(numbers) + len(numbers)


print(total(["1", "x"]))
"""
SWALLOWED = _replace(
    CALLER,
    "    return int(text)\n",
    "    try:\n        return int(text)\n    except ValueError:\n        return None\n",
)
ELSEWHERE = """def parse(text):
    return int(text)


def last(items):
    return items[len(items)]


print(parse("x"))
print(last([1]))
"""


_NO_ERROR = RunError("no error", None, None)


def _check(tmp_path: Path, source: str) -> Check:
    path = tmp_path / "prog.py"
    path.write_text(source)
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    run = RunResult(
        (sys.executable, str(path)),
        done.returncode,
        done.stdout,
        done.stderr,
        False,
        False,
        False,
        0.1,
    )
    return Check(None, run, None, parse_python_error(done.stderr, str(path)))


def _verdict(tmp_path: Path, original: str, candidate: str) -> str:
    before, after = _check(tmp_path, original), _check(tmp_path, candidate)
    region = Region(0, 1, False)  # parse()
    grown = len(candidate.splitlines()) - len(original.splitlines())
    verdict, _ = judge_run(before, before, after, region, Region(0, 1 + grown, False), candidate)
    return verdict


def test_a_run_error_holds_its_traceback_and_every_type_raised(tmp_path: Path) -> None:
    error = _check(tmp_path, CALLER).error
    assert error is not None and error.line == 1
    assert error.frames[0] == 9 and 5 in error.frames and error.frames[-1] == 1
    chained = "try:\n    {}['k']\nexcept KeyError:\n    raise ValueError('no k')\n"
    error = _check(tmp_path, chained).error
    assert error is not None and error.raised == {"KeyError", "ValueError"}


def test_a_fix_that_makes_the_caller_raise_a_new_error_is_not_fixed_here(tmp_path: Path) -> None:
    assert _check(tmp_path, SWALLOWED).error is not None
    assert _verdict(tmp_path, CALLER, SWALLOWED) != "fixed_here"


def test_an_error_at_a_frame_of_the_original_traceback_is_not_fixed_here(tmp_path: Path) -> None:
    original = (
        "def parse(text):\n    return int(text)\n\n\ndef pair(items):\n"
        "    first, second = parse(items[0])\n    return first + second\n\n\n"
        'print(pair(["x"]))\n'
    )
    # the same ValueError, now raised by the caller's line the original traceback went through
    candidate = _replace(
        original, "return int(text)", "return [int(text), 0] if text.isdigit() else []"
    )
    assert "unpack" in (_check(tmp_path, candidate).error or _NO_ERROR).message
    assert _verdict(tmp_path, original, candidate) != "fixed_here"


def test_a_new_error_in_a_function_the_original_never_reached_is_fixed_here(tmp_path: Path) -> None:
    candidate = _replace(ELSEWHERE, "return int(text)", "return int(text, 36)")
    assert _verdict(tmp_path, ELSEWHERE, candidate) == "fixed_here"


# ---------------------------------------------------------------- through the fix loop

AVERAGE = """def average(values):
    return sum(values) / len(value)


if __name__ == "__main__":
    print(average([1, 2, 3, 4]))
"""


def test_the_loop_refuses_a_reply_that_silences_instead_of_fixing(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence(
        "def average(values):\n"
        "    # the name is fine\n"
        "    return sum(values) / len(values)  # noqa: F821\n"
    )
    outcome, steps = fix(tmp_path, write_config, [fake], AVERAGE, attempts=1)
    assert not outcome.changed, outcome.message
    assert any(
        "it silences ruff with `# noqa: F821` instead of fixing the code" in s for s in steps
    )
