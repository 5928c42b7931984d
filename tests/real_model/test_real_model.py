"""A real model in the loop: SmolLM2-135M on two llama.cpp servers, through the OpenAI API.

Whatever the tiny model says, the client must route, stream, cancel and fail over correctly,
and the language server must finish its work without ever making the document worse.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from code_evolver import ConfigManager, OllamaClient
from code_evolver.cancel import Cancelled, CancelToken
from code_evolver.pipeline.fix_loop import FixSession
from code_evolver.pipeline.generate_loop import Generator
from code_evolver.pipeline.prompts import RunInfo, fix_prompt, generate_prompt
from code_evolver.pipeline.stubs import stub_near
from code_evolver.values import Target
from lsp_harness import Editor
from samples import BUGGY
from test_real_replies import check_extraction

pytestmark = pytest.mark.real_model

ADD_PROMPT = "Write a Python function add(a, b) that returns the sum of a and b."
SHORT = {"num_predict": 48}

STUB = '''def add(a, b):
    """Return the sum of a and b."""
    pass


print(add(2, 3))
'''


def run_python(source: str, tmp_path: Path, name: str = "check.py") -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=30, check=False
    )


# ---------------------------------------------------------------- the client against real servers


@pytest.mark.real_model
def test_generate_and_chat_on_each_server(real_servers, real_client):
    for url in real_servers.urls:
        client = real_client([url])
        generated = client.generate_full(prompt=ADD_PROMPT, model_key="generator", options=SHORT)
        assert generated.text.strip(), url
        assert generated.endpoint == url and generated.attempts == 1
        chatted = client.chat_full(
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Name one use of a Python list."},
            ],
            model_key="overseer",
            options=SHORT,
        )
        assert chatted.text.strip(), url
        assert chatted.endpoint == url and chatted.role == "overseer"
        assert client.probe(url, api="openai").models == ("smollm2",)


@pytest.mark.real_model
def test_round_robin_alternates_between_the_two_servers(real_servers, real_client):
    client = real_client(real_servers.urls)
    served = [
        client.generate_full(prompt=ADD_PROMPT, model_key="generator", options={"num_predict": 8})
        for _ in range(4)
    ]
    first, second = real_servers.urls
    assert [g.endpoint for g in served] == [first, second, first, second]
    assert all(g.text.strip() and g.attempts == 1 for g in served)
    assert client.endpoint_counters == {"generator": 4}


@pytest.mark.real_model
def test_failover_when_a_server_is_killed_mid_reply(real_servers, real_client):
    client = real_client(real_servers.urls)
    first, second = real_servers.urls
    victim = real_servers.servers[0]
    pieces: list[str] = []

    def kill_on_first_piece(text: str) -> None:
        pieces.append(text)
        if victim.alive():
            victim.kill()  # SIGKILL while it streams: a crash, not a clean close

    reply = client.generate_full(
        prompt=ADD_PROMPT, model_key="generator", on_text=kill_on_first_piece
    )
    assert not victim.alive()
    assert reply.endpoint == second and reply.attempts == 2
    assert [f.endpoint for f in reply.failures] == [first]
    assert reply.text.strip() and reply.text in "".join(pieces)
    later = [
        client.generate_full(prompt=ADD_PROMPT, model_key="generator", options=SHORT)
        for _ in range(3)
    ]
    assert [g.endpoint for g in later] == [second] * 3
    assert all(g.attempts == 1 and not g.failures and g.text.strip() for g in later)
    dead = client.registry.status(first, "smollm2")
    assert dead.state == "cooling" and dead.cooling_for > 30
    assert dead.failures == 1 and dead.last_error
    assert client.health_summary() == (1, 2)


@pytest.mark.real_model
def test_streaming_delivers_the_reply_in_pieces(real_servers, real_client):
    client = real_client(real_servers.urls[:1])
    pieces: list[str] = []
    arrivals: list[float] = []

    def collect(text: str) -> None:
        pieces.append(text)
        arrivals.append(time.monotonic())

    reply = client.generate_full(prompt=ADD_PROMPT, model_key="generator", on_text=collect)
    assert len(pieces) >= 5, pieces
    assert "".join(pieces) == reply.text
    assert arrivals[-1] > arrivals[0]  # streamed as generated, not delivered at the end


@pytest.mark.real_model
def test_cancel_mid_stream_is_quick_and_the_server_serves_on(real_servers, real_client):
    url = real_servers.urls[1]
    client = real_client([url])
    token = CancelToken()
    pieces: list[str] = []
    cancelled_at: list[float] = []

    def cancel_after_three(text: str) -> None:
        pieces.append(text)
        if len(pieces) == 3:
            cancelled_at.append(time.monotonic())
            threading.Thread(target=token.cancel).start()  # as the editor would, from elsewhere

    started = time.monotonic()
    with pytest.raises(Cancelled):
        client.generate_full(
            prompt="Write a long Python module with ten functions and their docstrings.",
            model_key="generator",
            options={"num_predict": 400},
            on_text=cancel_after_three,
            cancel=token,
        )
    ended = time.monotonic()
    assert cancelled_at, "the stream ended before three pieces"
    assert ended - cancelled_at[0] < 2.0
    assert ended - started < 30
    assert client.registry.status(url).state == "ok"  # a cancel is no endpoint failure
    after = client.generate_full(prompt=ADD_PROMPT, model_key="generator", options=SHORT)
    assert after.text.strip() and after.endpoint == url and after.attempts == 1


@pytest.mark.real_model
def test_code_extraction_on_live_replies(real_servers, real_client):
    client = real_client(real_servers.urls)
    code = BUGGY.split("\n\n\n")[0]
    prompts = [
        fix_prompt(
            code=code,
            language="python",
            path="stats.py",
            diagnostics=[],
            run=RunInfo("python stats.py", 1, "", "TypeError: object of type 'int' has no len()"),
            attempts=[],
            whole_file=False,
        ),
        generate_prompt(
            request="Return the sum of a and b.",
            signature="def add(a, b)",
            stub=STUB.split("\n\n\n")[0],
            related=[],
            approach=None,
            language="python",
            attempts=[],
        ),
    ]
    for prompt, original in zip(prompts, (code, STUB.split("\n\n\n")[0]), strict=True):
        reply = client.generate_full(prompt=prompt, model_key="generator")
        assert reply.text.strip()
        check_extraction(reply.text, original)
        check_extraction(reply.text)


# ---------------------------------------------------------------- the language server end to end


def _progress_completed(editor: Editor) -> list[str]:
    values = editor.progress()
    kinds = [v.kind for v in values]
    assert kinds and kinds[0] == "begin" and kinds[-1] == "end", kinds
    return [getattr(v, "message", None) or "" for v in values]


@pytest.mark.real_model
@pytest.mark.timeout(300)
async def test_lsp_fix_with_the_real_model_never_makes_it_worse(
    editor, real_servers, real_config, tmp_path
):
    await editor.start(real_config(real_servers.urls))
    uri = editor.open("stats.py", BUGGY)
    before = run_python(BUGGY, tmp_path, "before.py")
    assert before.returncode != 0
    result = await asyncio.wait_for(
        editor.command(
            "codeEvolver.fixDiagnostics",
            uri=uri,
            range={"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}},
        ),
        240,
    )
    print(result)
    steps = _progress_completed(editor)
    assert any("Attempt 1/2" in s for s in steps), steps
    assert result["message"] and any(result["message"] in m for m in editor.messages())
    assert (editor.root / "stats.py").read_text() == BUGGY  # the server never writes the file
    if result["applied"]:
        fixed = editor.texts[uri]
        assert fixed != BUGGY and "Fixed on attempt" in result["message"]
        assert run_python(fixed, tmp_path, "after.py").returncode == 0, fixed
    else:
        assert editor.texts[uri] == BUGGY and editor.edits == []
        assert "No fix after 2 attempt(s)" in result["message"], result


@pytest.mark.real_model
@pytest.mark.timeout(300)
async def test_lsp_generate_with_the_real_model_never_makes_it_worse(
    editor, real_servers, real_config, tmp_path
):
    config = real_config(real_servers.urls, generate={"use_overseer": True})
    await editor.start(config)
    uri = editor.open("calc.py", STUB)
    assert run_python(STUB, tmp_path, "before.py").returncode == 0
    result = await asyncio.wait_for(
        editor.command(
            "codeEvolver.generateFunction",
            uri=uri,
            range={"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
        ),
        240,
    )
    print(result)
    steps = _progress_completed(editor)
    assert any("Consulting overseer" in s for s in steps), steps
    assert any("Attempt 1/2" in s for s in steps), steps
    assert result["message"] and any(result["message"] in m for m in editor.messages())
    logs = [m.message for m in editor.client.log_messages]
    assert any("Generated" in m and "127.0.0.1" in m for m in logs), logs
    if result["applied"]:
        text = editor.texts[uri]
        assert text != STUB
        # No docstring examples and no tests (write_tests is off here): never "Generated".
        assert result["message"].startswith("Wrote add() by smollm2"), result
        assert "not verified: it has no docstring examples" in result["message"], result
        assert "def add(" in text and text.endswith("print(add(2, 3))\n")
        assert run_python(text, tmp_path, "after.py").returncode == 0, text
    else:
        assert editor.texts[uri] == STUB and editor.edits == []
        assert "No working function after 2 attempt(s)" in result["message"], result


@pytest.mark.real_model
async def test_lsp_status_lists_both_real_servers(editor, real_servers, real_config):
    await editor.start(real_config(real_servers.urls))
    status = await editor.command("codeEvolver.showStatus")
    assert status["healthy"] == 2 and status["total"] == 2, status
    assert all(url in status["text"] for url in real_servers.urls)


EXAMPLES_STUB = '''def add(a, b):
    """Return the sum of a and b.

    >>> add(2, 3)
    5
    >>> add(-1, 1)
    0
    """
'''


@pytest.mark.real_model
@pytest.mark.timeout(300)
def test_generate_candidates_on_both_servers_are_checked_by_the_docstring_examples(
    real_servers, real_config, tmp_path
):
    config = ConfigManager(
        real_config(real_servers.urls, generate={"candidates": 4, "max_attempts": 2})
    )
    client = OllamaClient(config.ollama_url, config_manager=config)
    (tmp_path / "calc.py").write_text(EXAMPLES_STUB, encoding="utf-8")
    target = Target(str(tmp_path / "calc.py"), "python", str(tmp_path))
    stub = stub_near(EXAMPLES_STUB, 0)
    assert stub is not None
    steps: list[str] = []
    with client, Generator(client, config.settings, target, on_step=steps.append) as generator:
        outcome = generator.generate(EXAMPLES_STUB, stub, {})
    print(outcome.message)
    # Two servers, one request each at a time: two candidates per attempt (the first that
    # passes ends the round, so the other may never be checked).
    assert any("writing 2 candidates" in s for s in steps), steps
    checked = [s for s in steps if "checking candidate" in s]
    assert checked and all(any(f"from {u}" in s for u in real_servers.urls) for s in checked)
    if outcome.changed:
        assert outcome.message.startswith("Generated add()"), outcome.message
        assert "checked by 2 docstring example(s)" in outcome.message
        (tmp_path / "calc.py").write_text(outcome.new_source or "", encoding="utf-8")
        after = subprocess.run(
            [sys.executable, "-m", "doctest", str(tmp_path / "calc.py")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert after.returncode == 0, after.stdout
    else:
        assert "No working function after 2 attempt(s)" in outcome.message


WRONG_AVERAGE = """def average(values):
    return sum(values) / (len(values) + 1)


if __name__ == "__main__":
    print(average([1, 2, 3, 4]))
"""
AVERAGE_TESTS = """from stats import average


def test_average():
    assert average([1, 2, 3, 4]) == 2.5


def test_single():
    assert average([7]) == 7
"""


@pytest.mark.real_model
@pytest.mark.timeout(300)
def test_fix_candidates_on_both_servers_are_verified_and_fixed_is_true(
    real_servers, real_config, tmp_path
):
    config = ConfigManager(real_config(real_servers.urls, fix={"candidates": 4}))
    client = OllamaClient(config.ollama_url, config_manager=config)
    (tmp_path / "stats.py").write_text(WRONG_AVERAGE, encoding="utf-8")
    (tmp_path / "test_stats.py").write_text(AVERAGE_TESTS, encoding="utf-8")
    target = Target(str(tmp_path / "stats.py"), "python", str(tmp_path))
    steps: list[str] = []
    with client, FixSession(client, config.settings, target, on_step=steps.append) as session:
        outcome = session.fix(WRONG_AVERAGE, [], whole_file=False)
    print(outcome.message)
    # Two servers, one request each at a time: two candidates per round, each one's steps
    # (refused before running, or verified by running the file and its tests) naming the
    # server that wrote it.
    assert any("asking" in s and "for 2 candidates" in s for s in steps), steps
    candidates = [s for s in steps if ", candidate " in s]
    assert candidates, steps
    assert all(any(f"from {u}:" in s for u in real_servers.urls) for s in candidates), steps
    assert (tmp_path / "stats.py").read_text(encoding="utf-8") == WRONG_AVERAGE
    if outcome.message.startswith("Fixed"):
        assert outcome.new_source is not None
        assert outcome.message.endswith("2 test(s) in test_stats.py pass"), outcome.message
        (tmp_path / "stats.py").write_text(outcome.new_source, encoding="utf-8")
        after = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert after.returncode == 0, after.stdout  # "Fixed" is true: the tests pass
    else:
        assert outcome.verdict != "fixed", outcome.message
