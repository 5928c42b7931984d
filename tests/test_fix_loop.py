"""The fix loop against the fake model: candidate rounds, escalation, and honest verdicts.

Every case runs the real loop (FixSession) on a real file in a temporary workspace, with real
runs of the code, against fake Ollama servers on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from code_evolver import ConfigManager, OllamaClient
from code_evolver.pipeline.fix_loop import FixSession
from code_evolver.values import DiagnosticInfo, Outcome, Target
from conftest import role_config
from fake_ollama import FakeOllama


def fence(code: str) -> str:
    return f"```python\n{code}```"


def fix(
    tmp_path: Path,
    write_config: Any,
    fakes: Sequence[FakeOllama],
    source: str,
    *,
    diagnostics: Sequence[DiagnosticInfo] = (),
    whole_file: bool = False,
    attempts: int = 3,
    fix_settings: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> tuple[Outcome, list[str]]:
    """Fix `source` as prog.py; returns the outcome and the progress steps."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    (workspace / "prog.py").write_text(source)
    for name, text in (files or {}).items():
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(text)
    data = role_config({"generator": [f.url for f in fakes]})
    data["fix"] = {"max_attempts": attempts, "run_timeout": 10, **(fix_settings or {})}
    config = ConfigManager(write_config(data))
    steps: list[str] = []
    with OllamaClient(config_manager=config) as client:
        target = Target(str(workspace / "prog.py"), "python", str(workspace))
        with FixSession(client, config.settings, target, on_step=steps.append) as session:
            outcome = session.fix(source, list(diagnostics), whole_file=whole_file)
    return outcome, steps


def prompts(*fakes: FakeOllama) -> list[str]:
    return [r.body["prompt"] for f in fakes for r in f.requests if r.path == "/api/generate"]


# ---------------------------------------------------------------- rounds of candidates

AVERAGE = """def average(values):
    total = 0
    for value in values:
        total += value
    return total / len(value)


if __name__ == "__main__":
    print(average([1, 2, 3, 4]))
"""
AVERAGE_FIXED = """def average(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)
"""


def test_one_endpoint_serving_one_request_asks_one_candidate_at_a_time(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.replies = [fence(AVERAGE.split("\n\n\n")[0] + "\n"), fence(AVERAGE_FIXED)]
    outcome, steps = fix(tmp_path, write_config, [fake], AVERAGE)
    assert outcome.verdict == "fixed" and "Fixed on attempt 2/3" in outcome.message
    assert fake.generate_count == 2 and fake.peak_active == 1
    assert not any("candidate" in s for s in steps)


def test_a_round_asks_every_endpoint_at_once_and_closes_the_losing_streams(
    fake_factory: Any, write_config: Any, tmp_path: Path
) -> None:
    fast, slow = fake_factory(name="fast"), fake_factory(name="slow")
    fast.reply = fence(AVERAGE_FIXED)
    slow.reply = fence(AVERAGE_FIXED)
    slow.chunk_delay = 0.5  # still streaming when the fast candidate has been verified
    started = time.monotonic()
    outcome, steps = fix(tmp_path, write_config, [fast, slow], AVERAGE)
    assert outcome.verdict == "fixed", outcome.message
    assert fast.url in outcome.message
    assert fast.generate_count == 1 and slow.generate_count == 1
    # The slow endpoint's connection was closed mid-stream: it stops generating.
    assert _until(lambda: slow.disconnects >= 1, started)
    assert any("candidate" in s and fast.url in s and "verifying" in s for s in steps), steps


def _until(condition: Any, started: float, limit: float = 20.0) -> bool:
    while not condition():
        if time.monotonic() - started > limit:
            return False
        time.sleep(0.05)
    return True


def test_each_candidate_of_a_round_gets_its_own_temperature_and_seed(
    fake_factory: Any, write_config: Any, tmp_path: Path
) -> None:
    a, b = fake_factory(name="a"), fake_factory(name="b")
    a.reply = b.reply = fence(AVERAGE.split("\n\n\n")[0] + "\n")  # unchanged: never wins
    fix(tmp_path, write_config, [a, b], AVERAGE, attempts=1)
    options = [
        r.body.get("options", {}) for f in (a, b) for r in f.requests if r.path == "/api/generate"
    ]
    assert len(options) == 2
    assert len({o["temperature"] for o in options}) == 2
    assert len({o["seed"] for o in options}) == 2


def test_fix_candidates_one_keeps_a_round_to_one_request(
    fake_factory: Any, write_config: Any, tmp_path: Path
) -> None:
    a, b = fake_factory(name="a"), fake_factory(name="b")
    a.reply = b.reply = fence(AVERAGE_FIXED)
    outcome, _ = fix(tmp_path, write_config, [a, b], AVERAGE, fix_settings={"candidates": 1})
    assert outcome.verdict == "fixed"
    assert a.generate_count + b.generate_count == 1


# ---------------------------------------------------------------- escalate until clean

GREET = """def greet(name):
    return "Hello, " + name + "!"


def shout(name)
    return greet(name).upper()


assert shout("Ada") == "HELLO, ADA!!"
print(shout("Ada"))
"""
GREET_COLON = GREET.replace("def shout(name)", "def shout(name):")
GREET_FIXED = """def shout(name):
    return greet(name).upper() + "!"
"""


def test_a_syntax_error_reaches_the_prompt_with_its_line(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = "no idea"
    fix(tmp_path, write_config, [fake], GREET, attempts=1)
    [prompt] = prompts(fake)
    assert "SyntaxError" in prompt and "line 5" in prompt and "def shout(name)" in prompt


def test_a_better_candidate_becomes_the_start_and_the_loop_goes_on_until_clean(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.replies = [
        fence("def shout(name):\n    return greet(name).upper()\n"),  # colon only
        fence(GREET_FIXED),
    ]
    outcome, _ = fix(tmp_path, write_config, [fake], GREET)
    assert outcome.verdict == "fixed", outcome.message
    assert "Fixed on attempt 2/3" in outcome.message
    assert outcome.new_source is not None and 'upper() + "!"' in outcome.new_source
    second = prompts(fake)[1]
    assert "AssertionError" in second  # the new starting point's own error


def test_attempts_spent_on_a_better_but_unclean_version_offer_labelled_partial_work(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence("def shout(name):\n    return greet(name).upper()\n")
    outcome, _ = fix(tmp_path, write_config, [fake], GREET, attempts=2)
    assert outcome.verdict == "partial" and outcome.changed
    assert "Fixed" not in outcome.message
    assert outcome.message.startswith("Partial fix, not a full one: SyntaxError gone; ")
    assert "AssertionError remains at line 9" in outcome.message


# ---------------------------------------------------------------- never weaken the check


def test_a_candidate_that_edits_the_programs_own_assert_is_refused(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    weakened = GREET_COLON.replace('"HELLO, ADA!!"', '"HELLO, ADA!"')
    fake.reply = fence(weakened)
    outcome, _ = fix(tmp_path, write_config, [fake], GREET, whole_file=True, attempts=1)
    assert not outcome.changed
    assert "changed or removed the program's own check" in outcome.message


MAIN = """def total(values):
    return sum(values) / 0


def main():
    print(total([1, 2]))


if __name__ == "__main__":
    main()
"""


def test_a_whole_file_answer_that_empties_main_is_refused(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence(MAIN.replace("    print(total([1, 2]))", "    pass"))
    outcome, _ = fix(tmp_path, write_config, [fake], MAIN, whole_file=True, attempts=1)
    assert not outcome.changed
    assert "main()" in outcome.message


def test_a_function_fix_that_returns_a_constant_is_not_a_fix(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence("def total(values):\n    return 0\n")
    outcome, _ = fix(tmp_path, write_config, [fake], MAIN, attempts=1)
    assert not outcome.changed
    assert "reduced total() to `return 0`" in outcome.message


def test_a_fix_that_loses_the_return_value_is_not_a_fix(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence("def total(values):\n    result = sum(values) / len(values)\n")
    outcome, _ = fix(tmp_path, write_config, [fake], MAIN, attempts=1)
    assert not outcome.changed
    assert "total() no longer returns a value" in outcome.message


def test_dropping_a_call_from_the_main_block_is_refused(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence(MAIN.replace("    main()", "    pass"))
    outcome, _ = fix(tmp_path, write_config, [fake], MAIN, whole_file=True, attempts=1)
    assert not outcome.changed
    assert "dropped the call of main()" in outcome.message


PRINTS = """def report(values):
    print("values:", len(values))
    return values[10]


if __name__ == "__main__":
    report([1, 2, 3])
"""


def test_a_fix_must_still_print_what_the_program_printed_before_it_failed(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence("def report(values):\n    return values[-1]\n")
    outcome, _ = fix(tmp_path, write_config, [fake], PRINTS, attempts=1)
    assert not outcome.changed
    assert "no longer prints what the program printed" in outcome.message


def test_prose_the_model_added_as_comments_is_dropped(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence(
        "def average(values):\n"
        "    # your code is completed with no explanation after this line\n"
        "    total = 0\n"
        "    for value in values:\n"
        "        total += value  # in python, it is not a function\n"
        "    return total / len(values)\n"
    )
    outcome, _ = fix(tmp_path, write_config, [fake], AVERAGE, attempts=1)
    assert outcome.verdict == "fixed" and outcome.new_source is not None
    assert "#" not in outcome.new_source
    assert "        total += value\n" in outcome.new_source


# ---------------------------------------------------------------- judge the diagnosed error

TWO_BUGS = """def first(values):
    return values[0] / 0


def last(values):
    return values[len(values)]


if __name__ == "__main__":
    print(first([2, 4]))
    print(last([2, 4]))
"""


def test_a_fix_of_the_diagnosed_function_is_not_held_against_an_error_elsewhere(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence("def first(values):\n    return values[0] / 1\n")
    diagnostic = DiagnosticInfo("ZeroDivisionError: division by zero", 2, "code-evolver")
    outcome, _ = fix(tmp_path, write_config, [fake], TWO_BUGS, diagnostics=[diagnostic])
    assert outcome.verdict == "fixed_here" and outcome.changed, outcome.message
    assert "Fixed" not in outcome.message
    assert "ZeroDivisionError gone; IndexError remains at line 6" in outcome.message
    assert "outside the code this fix is about" in outcome.message
    assert fake.generate_count == 1


# ---------------------------------------------------------------- standard input

ASKS = """def ask():
    name = input("name? ")
    return "Hello, " + nme


if __name__ == "__main__":
    print(ask())
"""


def test_a_program_that_reads_input_without_fix_stdin_gets_a_sentence_not_attempts(
    fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    outcome, _ = fix(tmp_path, write_config, [fake], ASKS)
    assert not outcome.changed and fake.generate_count == 0
    assert "reads standard input" in outcome.message and "fix.stdin" in outcome.message


@pytest.mark.parametrize("as_file", [False, True])
def test_fix_stdin_is_what_runs_read(
    as_file: bool, fake: FakeOllama, write_config: Any, tmp_path: Path
) -> None:
    fake.reply = fence('def ask():\n    name = input("name? ")\n    return "Hello, " + name\n')
    files = {"answers.txt": "Ada\n"} if as_file else None
    stdin = "answers.txt" if as_file else "Ada\n"
    outcome, _ = fix(
        tmp_path, write_config, [fake], ASKS, fix_settings={"stdin": stdin}, files=files
    )
    assert outcome.verdict == "fixed", outcome.message
    assert outcome.after is not None and outcome.after.run is not None
    assert "Hello, Ada" in outcome.after.run.stdout
