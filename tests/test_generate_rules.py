"""The generation loop's verdicts on real runs: what the model's own tests may and may not do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from code_evolver import ConfigManager, OllamaClient
from code_evolver.pipeline.generate_loop import Generator
from code_evolver.pipeline.stubs import stub_near
from code_evolver.values import Target
from conftest import role_config

SOURCE = '''def double(x):
    """Return x times two."""
'''
FUNCTION = "```python\ndef double(x):\n    return x * 2\n```"


def _generate(tests_reply: str, fake, write_config, tmp_path: Path) -> Any:
    """Generate double() with `tests_reply` as the model's answer to the tests prompt."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "mod.py").write_text(SOURCE)
    fake.reply_fn = lambda body: (
        tests_reply if "Write pytest unit tests" in body.get("prompt", "") else FUNCTION
    )
    settings = {"generate": {"use_overseer": False, "max_attempts": 1}}
    config = ConfigManager(write_config({**role_config({"generator": [fake.url]}), **settings}))
    client = OllamaClient(config_manager=config)
    target = Target(str(workspace / "mod.py"), "python", str(workspace))
    stub = stub_near(SOURCE, 0)
    assert stub is not None
    with Generator(client, config.settings, target) as generator:
        return generator.generate(SOURCE, stub, {})


def test_tests_that_do_not_load_are_left_out_not_held_against_the_function(
    fake, write_config, tmp_path: Path
):
    broken = "```python\nfrom no_such_module import double\n\n\ndef test_double():\n" \
             "    assert double(2) == 4\n```"
    outcome = _generate(broken, fake, write_config, tmp_path)
    assert outcome.changed, outcome.message
    assert "return x * 2" in outcome.new_source
    assert "its own tests did not load and were left out" in outcome.message


def test_tests_that_load_and_fail_still_reject_the_function(fake, write_config, tmp_path: Path):
    wrong = "```python\nfrom mod import double\n\n\ndef test_double():\n" \
            "    assert double(2) == 5\n```"
    outcome = _generate(wrong, fake, write_config, tmp_path)
    assert not outcome.changed
    assert "No working function after 1 attempt(s)" in outcome.message
