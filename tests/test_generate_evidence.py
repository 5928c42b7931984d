"""What Generate says checked the code is what really ran: the stub's docstring examples run
whatever the file's `__main__` block does, an example that never reports is a failure, and a
module that cannot be imported is said; Generate Tests never shadows a test of the user's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from code_evolver import ConfigManager, OllamaClient
from code_evolver.pipeline import test_writer
from code_evolver.pipeline.test_merge import merge_tests
from code_evolver.values import Target
from conftest import role_config
from fake_ollama import FakeOllama
from test_generate_rules import FUNCTION, WITH_EXAMPLES, WRONG, _generate

# The file's own run ends the process before anything appended to it could run.
ENDS_THE_PROCESS = (
    WITH_EXAMPLES + "\n\ndef main():\n    print(double(2))\n    return 0\n\n\n"
    'if __name__ == "__main__":\n    import sys\n\n    sys.exit(main())\n'
)
# The file's own run fails at once, before and after the candidate: it wants an argument.
READS_ITS_ARGUMENT = (
    WITH_EXAMPLES + "\n\ndef main():\n    import sys\n\n    print(double(int(sys.argv[1])))\n\n\n"
    'if __name__ == "__main__":\n    main()\n'
)


@pytest.mark.parametrize("source", [ENDS_THE_PROCESS, READS_ITS_ARGUMENT], ids=["exit", "argv"])
def test_a_wrong_candidate_fails_its_examples_whatever_the_main_block_does(
    fake, write_config, tmp_path: Path, source: str
):
    fake.replies = [WRONG]
    outcome = _generate(
        [fake], write_config, tmp_path, source=source, write_tests=False, candidates=1
    )
    assert not outcome.changed, outcome.message
    assert not outcome.message.startswith("Generated")
    assert "1 of 2 docstring example(s) fail" in outcome.message


def test_a_right_candidate_is_checked_by_the_examples_that_ran(fake, write_config, tmp_path: Path):
    fake.replies = [WRONG, FUNCTION]
    outcome = _generate(
        [fake],
        write_config,
        tmp_path,
        source=READS_ITS_ARGUMENT,
        write_tests=False,
        candidates=1,
        max_attempts=2,
    )
    assert outcome.changed, outcome.message
    assert outcome.attempts == 2
    assert outcome.message.startswith("Generated double() on attempt 2/2")
    assert outcome.message.endswith("checked by 2 docstring example(s)")
    # The edit is the function alone: nothing of the examples' runner reaches the file.
    assert outcome.new_source is not None
    assert outcome.new_source.count('if __name__ == "__main__":') == 1


def test_an_example_that_ends_the_run_never_passes(fake, write_config, tmp_path: Path):
    # The first example's call ends the process with status 0: no example reported.
    quits = "```python\ndef double(x):\n    import os\n\n    os._exit(0)\n```"
    fake.replies = [quits]
    outcome = _generate(
        [fake], write_config, tmp_path, source=WITH_EXAMPLES, write_tests=False, candidates=1
    )
    assert not outcome.changed, outcome.message
    assert (
        "the docstring example `double(3)` never reported: python exited normally"
        in outcome.message
    )


def test_a_module_that_raises_on_import_is_said_and_nothing_is_called_checked(
    fake, write_config, tmp_path: Path
):
    source = WITH_EXAMPLES + '\n\nSETTINGS = open("settings.ini").read()\n'
    fake.replies = [FUNCTION]
    outcome = _generate(
        [fake], write_config, tmp_path, source=source, write_tests=False, candidates=1
    )
    assert not outcome.message.startswith("Generated"), outcome.message
    assert "not verified" in outcome.message
    assert (
        "importing mod.py raises FileNotFoundError: [Errno 2] No such file or directory: "
        "'settings.ini', so its docstring examples cannot run"
    ) in outcome.message


def test_a_candidate_that_breaks_the_import_is_rejected_with_the_error(
    fake, write_config, tmp_path: Path
):
    source = WITH_EXAMPLES + "\n\nTWO = double(1)\n"
    raises = (
        "```python\ndef double(x):\n    if x == 1:\n        raise KeyError(x)\n"
        "    return x * 2\n```"
    )
    fake.replies = [raises]
    outcome = _generate(
        [fake], write_config, tmp_path, source=source, write_tests=False, candidates=1
    )
    assert not outcome.changed, outcome.message
    assert "importing mod.py raises KeyError: 1" in outcome.message


# ---------------------------------------------------------------- Generate Tests

USER_TESTS = (
    "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
    "class TestAdd:\n    def test_zero(self):\n        assert add(0, 0) == 0\n"
)


def _write_tests(
    fake: FakeOllama, write_config: Callable[..., Path], tmp_path: Path, reply: str
) -> test_writer.TestsOutcome:
    workspace = tmp_path / "ws"
    (workspace / "tests").mkdir(parents=True)
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (workspace / "tests" / "test_calc.py").write_text(USER_TESTS)
    fake.reply = f"```python\n{reply}```"
    settings = {"fix": {"run_timeout": 60, "max_attempts": 1}}
    config = ConfigManager(write_config({**role_config({"generator": [fake.url]}), **settings}))
    target = Target(str(workspace / "calc.py"), "python", str(workspace))
    with test_writer.TestWriter(
        OllamaClient(config_manager=config), config.settings, target
    ) as writer:
        return writer.write_tests((workspace / "calc.py").read_text(), 1)


def test_a_generated_test_named_like_the_users_is_renamed_and_said(
    fake, write_config, tmp_path: Path
):
    reply = (
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n\n\n"
        "class TestAdd:\n    def test_zero(self):\n        assert add(0, 5) == 5\n"
    )
    outcome = _write_tests(fake, write_config, tmp_path, reply)
    assert outcome.content is not None, outcome.message
    assert outcome.content.startswith(USER_TESTS)  # the user's tests, untouched
    assert "def test_add_generated():" in outcome.content
    assert "class TestAdd_generated:" in outcome.content
    assert outcome.message.startswith("Wrote 2 passing test(s) for add to tests/test_calc.py")
    assert "renamed test_add to test_add_generated and TestAdd to TestAdd_generated" in (
        outcome.message
    )
    assert set(outcome.passed) == {"test_add_generated", "TestAdd_generated::test_zero"}


def test_a_generated_helper_that_would_replace_the_users_is_refused(
    fake, write_config, tmp_path: Path
):
    # Appended, `add` would be a new function for the user's tests too: never written.
    reply = "def add(a, b):\n    return 3\n\n\ndef test_add_three():\n    assert add(1, 2) == 3\n"
    outcome = _write_tests(fake, write_config, tmp_path, reply)
    assert outcome.content is None, outcome.content
    assert "nothing was written" in outcome.message
    assert "the model's tests bind add again, which tests/test_calc.py already has" in (
        outcome.message
    )


def test_a_module_wide_mark_or_a_different_import_of_a_users_name_is_refused():
    skip = "import pytest\n\npytestmark = pytest.mark.skip\n\n\ndef test_new():\n    pass\n"
    refused = merge_tests(USER_TESTS, skip, "tests/test_calc.py")
    assert refused.content is None
    assert refused.problem == (
        "the model's tests set pytestmark, which would apply to your tests in tests/test_calc.py"
    )
    other = "from other import add\n\n\ndef test_new():\n    assert add(1, 1) == 2\n"
    assert merge_tests(USER_TESTS, other, "tests/test_calc.py").content is None
    same = "from calc import add\n\n\ndef test_new():\n    assert add(1, 1) == 2\n"
    assert merge_tests(USER_TESTS, same, "tests/test_calc.py").content == (
        USER_TESTS + "\n\n" + same
    )
