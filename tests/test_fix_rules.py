"""The fix loop's verdicts on real runs: never trade a passing test for a cleaner run, nor one
passing test for another."""

from __future__ import annotations

from pathlib import Path

from code_evolver import ConfigManager, OllamaClient
from code_evolver.pipeline.fix_loop import FixSession
from code_evolver.values import Outcome, Target
from conftest import role_config

SOURCE = """def double(x):
    return x * 2


def half(x):
    return x / 0


if __name__ == "__main__":
    print(half(4))
"""
# A cleaner run (no crash), but the test that passed now fails and the other still does.
WORSE = """```python
def double(x):
    return x * 3


def half(x):
    return x
```"""
TESTS = """from mod import double, half


def test_double():
    assert double(2) == 4


def test_half():
    assert half(4) == 2
"""


def _fix_once(reply: str, fake, write_config, tmp_path: Path) -> Outcome:
    """One attempt at fixing mod.py (tests in tests/test_mod.py) with the model's `reply`."""
    workspace = tmp_path / "ws"
    (workspace / "tests").mkdir(parents=True)
    (workspace / "mod.py").write_text(SOURCE)
    (workspace / "tests" / "test_mod.py").write_text(TESTS)
    fake.reply = reply
    config = ConfigManager(write_config(role_config({"generator": [fake.url]})))
    client = OllamaClient(config_manager=config)
    target = Target(str(workspace / "mod.py"), "python", str(workspace))
    with FixSession(client, config.settings, target, max_attempts=1) as session:
        return session.fix(SOURCE, [], whole_file=True)


def test_a_candidate_that_fails_a_passing_test_is_refused(fake, write_config, tmp_path: Path):
    outcome = _fix_once(WORSE, fake, write_config, tmp_path)
    assert outcome.before is not None and outcome.before.passed_tests == 1
    assert not outcome.changed
    assert "No fix after 1 attempt(s)" in outcome.message


# The same number of passing tests, but not the same ones: double breaks, half is fixed.
SWAPPED = """```python
def double(x):
    return x * 3


def half(x):
    return x / 2
```"""


def test_a_candidate_that_swaps_which_test_passes_is_refused(fake, write_config, tmp_path: Path):
    outcome = _fix_once(SWAPPED, fake, write_config, tmp_path)
    assert outcome.before is not None
    assert outcome.before.passed_names == {"tests/test_mod.py::test_double"}
    assert not outcome.changed, "test_double passed before and fails with the candidate"


FIXED = """```python
def double(x):
    return x * 2


def half(x):
    return x / 2
```"""


def test_fixed_says_what_checked_it_the_run_and_the_tests_by_file(
    fake, write_config, tmp_path: Path
):
    outcome = _fix_once(FIXED, fake, write_config, tmp_path)
    assert outcome.verdict == "fixed"
    assert outcome.message.startswith("Fixed on attempt 1/1")
    assert outcome.message.endswith(": the file ran cleanly; 2 test(s) in tests/test_mod.py pass")
