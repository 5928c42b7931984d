"""The generation loop's verdicts on real runs against the fake model: docstring examples
decide, the model's tests count only when they load and pass, candidates run in parallel and
the losers are cancelled, and "Generated" is said only when something checked the code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from code_evolver import ConfigManager, OllamaClient
from code_evolver.pipeline.generate_loop import Generator
from code_evolver.pipeline.stubs import stub_near
from code_evolver.values import Outcome, Target
from conftest import role_config
from fake_ollama import FakeOllama

SOURCE = '''def double(x):
    """Return x times two."""
'''
WITH_EXAMPLES = '''def double(x):
    """Return x times two.

    >>> double(3)
    6
    >>> double(-1)
    -2
    """
'''
FUNCTION = "```python\ndef double(x):\n    return x * 2\n```"
WRONG = "```python\ndef double(x):\n    return x + 3\n```"  # right for 3, wrong for -1
UNDEFINED = "```python\ndef double(x):\n    return times(x, 2)\n```"
TESTS_PROMPT = "Write pytest unit tests"


def _is_tests_prompt(body: dict[str, Any]) -> bool:
    return TESTS_PROMPT in body.get("prompt", "")


def _generate(
    fakes: list[FakeOllama],
    write_config: Callable[..., Path],
    tmp_path: Path,
    *,
    source: str = SOURCE,
    steps: list[str] | None = None,
    files: dict[str, str] | None = None,
    ollama: dict[str, Any] | None = None,
    **generate: Any,
) -> Outcome:
    """Generate double() in a workspace holding `source` as mod.py (and `files`)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "mod.py").write_text(source)
    for rel, text in (files or {}).items():
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(text)
    settings = {
        "generate": {"use_overseer": False, "max_attempts": 1, **generate},
        "fix": {"run_timeout": 60},  # pytest starts slowly on a busy machine
    }
    config = ConfigManager(
        write_config(
            {**role_config({"generator": [f.url for f in fakes]}, **(ollama or {})), **settings}
        )
    )
    client = OllamaClient(config_manager=config)
    target = Target(str(workspace / "mod.py"), "python", str(workspace))
    stub = stub_near(source, 0)
    assert stub is not None
    with Generator(
        client, config.settings, target, on_step=(steps if steps is not None else []).append
    ) as generator:
        return generator.generate(source, stub, {})


def _prompts(fake: FakeOllama) -> list[str]:
    return [str(r.body.get("prompt", "")) for r in fake.requests if isinstance(r.body, dict)]


# ---------------------------------------------------------------- the model's own tests


def test_tests_that_do_not_load_are_left_out_and_the_function_is_not_verified(
    fake, write_config, tmp_path: Path
):
    broken = (
        "```python\nfrom no_such_module import double\n\n\ndef test_double():\n"
        "    assert double(2) == 4\n```"
    )
    fake.reply_fn = lambda body: broken if _is_tests_prompt(body) else FUNCTION
    outcome = _generate([fake], write_config, tmp_path, write_tests=True)
    assert outcome.changed, outcome.message
    assert "return x * 2" in (outcome.new_source or "")
    assert not outcome.message.startswith("Generated")
    assert "not verified" in outcome.message
    assert "the tests the model wrote for it did not load" in outcome.message
    assert "add `>>>` examples" in outcome.message


def test_tests_that_load_and_fail_still_reject_the_function(fake, write_config, tmp_path: Path):
    wrong = (
        "```python\nfrom mod import double\n\n\ndef test_double():\n    assert double(2) == 5\n```"
    )
    fake.reply_fn = lambda body: wrong if _is_tests_prompt(body) else FUNCTION
    outcome = _generate([fake], write_config, tmp_path, write_tests=True)
    assert not outcome.changed
    assert "No working function after 1 attempt(s)" in outcome.message


def test_tests_that_load_and_pass_verify_the_function(fake, write_config, tmp_path: Path):
    right = (
        "```python\nfrom mod import double\n\n\ndef test_double():\n    assert double(2) == 4\n```"
    )
    fake.reply_fn = lambda body: right if _is_tests_prompt(body) else FUNCTION
    outcome = _generate([fake], write_config, tmp_path, write_tests=True)
    assert outcome.changed, outcome.message
    assert outcome.message.startswith("Generated double() on attempt 1/1 by codellama")
    assert "checked by 1 model-written test(s)" in outcome.message


# ---------------------------------------------------------------- docstring examples


def test_docstring_examples_reject_a_wrong_candidate_and_the_next_attempt_sees_why(
    fake, write_config, tmp_path: Path
):
    fake.replies = [WRONG, FUNCTION]
    outcome = _generate(
        [fake],
        write_config,
        tmp_path,
        source=WITH_EXAMPLES,
        max_attempts=2,
        write_tests=False,
        candidates=1,
    )
    assert outcome.changed, outcome.message
    assert "return x * 2" in (outcome.new_source or "")
    assert outcome.attempts == 2
    assert "checked by 2 docstring example(s)" in outcome.message
    second = _prompts(fake)[1]
    # The failing example, what it expected and what it got reach the model.
    assert "1 of 2 docstring example(s) fail" in second
    assert "double(-1)" in second and "Expected:" in second and "Got:" in second


def test_docstring_examples_are_the_users_own_words_not_the_candidates(
    fake, write_config, tmp_path: Path
):
    # The candidate rewrites the docstring to match its own wrong behaviour: the stub's
    # examples still judge it.
    sly = (
        '```python\ndef double(x):\n    """\n    >>> double(3)\n    6\n    >>> double(-1)\n'
        '    2\n    """\n    return abs(x) * 2\n```'
    )
    fake.replies = [sly]
    outcome = _generate(
        [fake], write_config, tmp_path, source=WITH_EXAMPLES, write_tests=False, candidates=1
    )
    assert not outcome.changed
    assert "No working function after 1 attempt(s)" in outcome.message
    assert "1 of 2 docstring example(s) fail" in outcome.message


def test_examples_that_pass_verify_without_model_tests(fake, write_config, tmp_path: Path):
    fake.replies = [FUNCTION]
    outcome = _generate([fake], write_config, tmp_path, source=WITH_EXAMPLES, write_tests=False)
    assert outcome.changed
    assert outcome.message.startswith("Generated double() on attempt 1/1")
    assert outcome.message.endswith("checked by 2 docstring example(s)")
    assert fake.generate_count == 1  # one endpoint serving one at a time: one candidate


def test_examples_run_before_the_model_writes_tests(fake, write_config, tmp_path: Path):
    # A candidate the examples reject costs no test-writing request.
    fake.reply_fn = lambda body: "unused" if _is_tests_prompt(body) else WRONG
    outcome = _generate([fake], write_config, tmp_path, source=WITH_EXAMPLES, write_tests=True)
    assert not outcome.changed
    assert not any(TESTS_PROMPT in p for p in _prompts(fake))


# ---------------------------------------------------------------- never offered, honest words


def test_a_candidate_calling_an_undefined_name_is_never_offered(fake, write_config, tmp_path: Path):
    # No examples and no tests: nothing would call it, and still it is not offered.
    fake.replies = [UNDEFINED]
    outcome = _generate([fake], write_config, tmp_path, write_tests=False)
    assert not outcome.changed
    assert "NameError: it uses times, which nothing in the file defines" in outcome.message


def test_a_name_error_when_the_examples_call_it_is_named(fake, write_config, tmp_path: Path):
    # `times` exists only as a global assigned below the call's reach: the static check passes
    # (the module defines it), the call raises NameError.
    source = WITH_EXAMPLES + "\n\nif False:\n    times = None\n"
    fake.replies = [UNDEFINED]
    outcome = _generate(
        [fake], write_config, tmp_path, source=source, write_tests=False, candidates=1
    )
    assert not outcome.changed
    assert "NameError: name 'times' is not defined when its docstring examples call it" in (
        outcome.message
    )


def test_nothing_to_check_it_says_not_verified_and_how_to_check_it(
    fake, write_config, tmp_path: Path
):
    fake.replies = [FUNCTION]
    outcome = _generate([fake], write_config, tmp_path, write_tests=False)
    assert outcome.changed
    assert outcome.message.startswith("Wrote double() by codellama at ")
    assert outcome.message.endswith(
        "(not verified: it has no docstring examples and no tests of yours; add `>>>` "
        "examples to its docstring to check it)"
    )


def test_the_users_tests_that_now_pass_are_named(fake, write_config, tmp_path: Path):
    tests = "from mod import double\n\n\ndef test_double():\n    assert double(4) == 8\n"
    fake.replies = [FUNCTION]
    outcome = _generate(
        [fake], write_config, tmp_path, write_tests=False, files={"tests/test_mod.py": tests}
    )
    assert outcome.changed, outcome.message
    assert "checked by 1 of your tests in tests/test_mod.py" in outcome.message


# ---------------------------------------------------------------- parallel candidates


def test_the_first_passing_candidate_wins_and_the_slower_stream_is_closed(
    fake_factory, write_config, tmp_path: Path
):
    fast, slow = fake_factory(name="fast"), fake_factory(name="slow")
    fast.replies = [FUNCTION]
    slow.replies = [FUNCTION]
    slow.latency = 120.0  # still thinking when the fast candidate has passed
    steps: list[str] = []
    # No timeout can end the slow request first: only closing the round does.
    patient = {"timeouts": {"connect": 2, "first_byte": 300, "idle": 300, "total": 600}}
    outcome = _generate(
        [fast, slow],
        write_config,
        tmp_path,
        source=WITH_EXAMPLES,
        write_tests=False,
        steps=steps,
        ollama=patient,
    )
    assert outcome.changed, outcome.message
    assert outcome.endpoints == (fast.url,)
    assert fast.url in outcome.message
    assert slow.wait_for(lambda: slow.disconnects == 1)
    # Two candidates (capacity 2 of the default 4), each sampled its own way.
    options = [r.body["options"] for f in (fast, slow) for r in f.requests]
    assert len(options) == 2
    assert len({o["seed"] for o in options}) == 2
    assert len({o["temperature"] for o in options}) == 2
    assert any("writing 2 candidates" in s for s in steps), steps
    assert any("checking candidate" in s and fast.url in s for s in steps), steps


def test_a_failing_first_candidate_does_not_end_the_round(
    fake_factory, write_config, tmp_path: Path
):
    fast, slow = fake_factory(name="fast"), fake_factory(name="slow")
    fast.replies = [WRONG]
    slow.replies = [FUNCTION]
    slow.latency = 1.0
    outcome = _generate(
        [fast, slow], write_config, tmp_path, source=WITH_EXAMPLES, write_tests=False
    )
    assert outcome.changed, outcome.message
    assert outcome.endpoints == (fast.url, slow.url)
    assert slow.url in outcome.message
    assert fast.generate_count + slow.generate_count == 2  # one attempt, two candidates


def test_candidates_setting_caps_the_round(fake_factory, write_config, tmp_path: Path):
    first, second = fake_factory(), fake_factory()
    served: list[str] = []

    def reply(body: dict[str, Any]) -> str:
        served.append(body["prompt"])
        return WRONG if len(served) == 1 else FUNCTION

    first.reply_fn = second.reply_fn = reply
    outcome = _generate(
        [first, second],
        write_config,
        tmp_path,
        source=WITH_EXAMPLES,
        write_tests=False,
        candidates=1,
        max_attempts=2,
    )
    assert outcome.changed and outcome.attempts == 2
    assert first.peak_active <= 1 and second.peak_active <= 1
    assert first.generate_count + second.generate_count == 2
