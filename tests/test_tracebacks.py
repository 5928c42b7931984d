"""Tests for mapping tracebacks, syntax errors and pytest output to lines of the target file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from code_evolver.pipeline.tracebacks import RunError, error_summary, parse_python_error

CHAINED = """\
Traceback (most recent call last):
  File "/work/app/mod.py", line 6, in g
    f(0)
  File "/work/app/mod.py", line 2, in f
    return 1 / x
           ~~^~~
ZeroDivisionError: division by zero

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/work/app/mod.py", line 11, in <module>
    g()
  File "/work/app/mod.py", line 8, in g
    raise ValueError("bad value") from e
ValueError: bad value
"""

THROUGH_LIBRARY = """\
Traceback (most recent call last):
  File "/work/app/main.py", line 3, in <module>
    run()
  File "/work/app/main.py", line 2, in run
    json.loads("{")
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2
"""

SYNTAX = """\
  File "/work/app/syn.py", line 3
    def f(:
          ^
SyntaxError: invalid syntax
"""

INDENTATION = """\
  File "/work/app/ind.py", line 2
    return 1
    ^
IndentationError: expected an indented block after function definition on line 1
"""

PYTEST_LONG = """\
FF                                                                       [100%]
=================================== FAILURES ===================================
____________________________________ test_a ____________________________________

    def test_a():
>       assert f(1) == 2
E       assert 1.0 == 2
E        +  where 1.0 = f(1)

tests/test_mod.py:3: AssertionError
____________________________________ test_b ____________________________________

    def test_b():
>       f(0)

tests/test_mod.py:5:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

x = 0

    def f(x):
>       return 1 / x
E       ZeroDivisionError: division by zero

mod.py:2: ZeroDivisionError
=========================== short test summary info ============================
FAILED tests/test_mod.py::test_a - assert 1.0 == 2
FAILED tests/test_mod.py::test_b - ZeroDivisionError: division by zero
2 failed in 0.59s
"""

PYTEST_ASSERT_ONLY = """\
    def test_a():
>       assert f(1) == 2
E       assert 1.0 == 2

tests/test_mod.py:3: AssertionError
"""

WARNING_ONLY = """\
/venv/lib/python3.11/site-packages/plugin.py:306: PytestDeprecationWarning: The option is unset.
  warnings.warn(PytestDeprecationWarning(_UNSET))
"""


def test_chained_exception_final_message_and_deepest_target_frame() -> None:
    error = parse_python_error(CHAINED, "/work/app/mod.py")
    assert error == RunError("ValueError: bad value", 7, "/work/app/mod.py")


def test_frames_outside_the_target_are_skipped() -> None:
    error = parse_python_error(THROUGH_LIBRARY, "/work/app/main.py")
    assert error is not None
    assert error.message.startswith("json.decoder.JSONDecodeError: Expecting property name")
    assert error.line == 1


def test_no_frame_in_target_gives_no_line() -> None:
    error = parse_python_error(THROUGH_LIBRARY, "/work/app/other.py")
    assert error is not None
    assert error.line is None
    assert error.path == "/usr/lib/python3.11/json/__init__.py"


def test_syntax_error_format() -> None:
    assert parse_python_error(SYNTAX, "/work/app/syn.py") == RunError(
        "SyntaxError: invalid syntax", 2, "/work/app/syn.py"
    )


def test_indentation_error_format() -> None:
    error = parse_python_error(INDENTATION, "/work/app/ind.py")
    assert error is not None
    assert error.message.startswith("IndentationError: expected an indented block")
    assert error.line == 1


def test_pytest_output_maps_to_the_module_under_test() -> None:
    error = parse_python_error(PYTEST_LONG, "/work/app/mod.py")
    assert error == RunError("ZeroDivisionError: division by zero", 1, "/work/app/mod.py")


def test_pytest_output_maps_to_the_test_file() -> None:
    error = parse_python_error(PYTEST_LONG, "/work/app/tests/test_mod.py")
    assert error is not None
    assert error.line == 4


def test_pytest_assertion() -> None:
    error = parse_python_error(PYTEST_ASSERT_ONLY, "/work/app/tests/test_mod.py")
    assert error == RunError("AssertionError: assert 1.0 == 2", 2, "/work/app/tests/test_mod.py")


def test_pytest_short_traceback_format() -> None:
    text = (
        "____ test_b ____\n"
        "tests/test_mod.py:5: in test_b\n"
        "    f(0)\n"
        "mod.py:2: in f\n"
        "    return 1 / x\n"
        "E   ZeroDivisionError: division by zero\n"
        "=== short test summary info ===\n"
        "FAILED tests/test_mod.py::test_b - ZeroDivisionError: division by zero\n"
    )
    error = parse_python_error(text, "/work/app/mod.py")
    assert error == RunError("ZeroDivisionError: division by zero", 1, "/work/app/mod.py")


def test_pytest_summary_alone() -> None:
    error = parse_python_error("FAILED t.py::test_x - KeyError: 'a'\n", "/x/t.py")
    assert error is not None and error.message == "KeyError: 'a'"


def test_temporary_copy_matches_by_alias_and_basename(tmp_path: Path) -> None:
    text = CHAINED.replace("/work/app/mod.py", "/tmp/code-evolver-123/mod.py")
    by_alias = parse_python_error(
        text, "/work/app/mod.py", aliases=["/tmp/code-evolver-123/mod.py"]
    )
    assert by_alias is not None and by_alias.line == 7
    by_basename = parse_python_error(text, "/work/app/mod.py")
    assert by_basename is not None and by_basename.line == 7


def test_exact_path_beats_a_same_basename_frame() -> None:
    text = """\
Traceback (most recent call last):
  File "/work/app/mod.py", line 4, in <module>
    helper()
  File "/work/lib/mod.py", line 9, in helper
    raise RuntimeError("boom")
RuntimeError: boom
"""
    error = parse_python_error(text, "/work/app/mod.py")
    assert error is not None and error.line == 3


def test_real_traceback_from_a_run(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text("def f(d):\n    return d['missing']\n\nf({})\n")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    error = parse_python_error(done.stderr, str(script))
    assert error == RunError("KeyError: 'missing'", 1, str(script))


def test_no_error_gives_none() -> None:
    assert parse_python_error("", "/x.py") is None
    assert parse_python_error("hello\nall good\n", "/x.py") is None
    assert parse_python_error(WARNING_ONLY, "/venv/lib/python3.11/site-packages/plugin.py") is None


def test_error_summary() -> None:
    assert error_summary(CHAINED) == "ValueError: bad value"
    assert error_summary("just one line of noise\n\n") == "just one line of noise"
    assert error_summary("") == ""
    long = error_summary("Traceback (most recent call last):\nValueError: " + "x" * 500, 50)
    assert len(long) == 50 and long.endswith("…") and "\n" not in long


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(max_size=20))
def test_parse_python_error_never_raises(text: str, target: str) -> None:
    error = parse_python_error(text, target, aliases=[target + "x"])
    assert error is None or error.line is None or error.line >= 0
    error_summary(text)


traceback_pieces = st.sampled_from(
    ["Traceback (most recent call last):\n", '  File "/a/b.py", line 3, in f\n',
     '  File "b.py", line 99999999999999999999\n', "    x = 1\n", "ValueError: x\n", "E   ", "E",
     "assert 1\n", "b.py:12: AssertionError\n", "b.py:3: in f\n", "FAILED b.py::t - E\n", "\n",
     "  | ", "  + Exception Group Traceback (most recent call last):\n", "\x00", ":", '"']
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(traceback_pieces, max_size=25).map("".join))
def test_parse_python_error_on_traceback_like_noise(text: str) -> None:
    error = parse_python_error(text, "/a/b.py", aliases=["\x00"])
    if error is not None:
        assert error.line is None or error.line >= 0
