"""Model endpoints failing in every way, at every stage of a fix and of a generation.

Each failure kind gets one language server. In it, every stage (the first generator request,
the escalation attempt, the overseer, the evaluator) meets that failure with one endpoint per
role and with two. The work either completes on the other endpoint or ends with one sentence in
window/showMessage; a failed command leaves the document (and the file on disk) alone; and the
server process, counted from /proc, keeps no thread, socket or child process behind.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from reliability_kit import (
    ProcessCensus,
    census,
    errors,
    fence,
    give_up,
    job_pool_size,
    logs,
    lsp_session,
    server_pid,
    settle,
    socket_peers,
    tcp_connections_to,
    wait_until,
    whole_range,
)

from code_evolver import ConfigManager, OllamaClient
from code_evolver.llm import AllEndpointsFailed, EndpointTimeout, OutputTooLarge, StreamError
from fake_ollama import FakeOllama
from lsp_harness import Editor
from samples import BUGGY, FIXED, FIXED_FUNCTION

STUB = '''def mean(xs):
    """Return the mean of xs."""
    pass


print(mean([2, 4]))
'''
GOOD_MEAN = '''def mean(xs):
    """Return the mean of xs."""
    return sum(xs) / len(xs)
'''
GENERATED = STUB.replace("    pass\n", "    return sum(xs) / len(xs)\n")
APPROACH = "1. Add the numbers up.\n2. Divide by how many there are."
SCORE = "SCORE: 9/10 short and correct"

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "refuse": ("refuse", {}),
    "status500": ("status", {"code": 500}),
    "status503": ("status", {"code": 503}),
    "status404": ("status", {"code": 404}),
    "status400": ("status", {"code": 400}),
    "break": ("break", {}),
    "error_line": ("error_line", {}),
    "garbage": ("garbage", {}),
    "hang": ("hang", {}),  # with timeouts.first_byte of 1 s
    "idle": ("idle", {}),  # with timeouts.idle of 1 s
}
STAGES = ("fix_first", "fix_escalation", "gen_first", "gen_escalation", "overseer", "evaluator")
TIMEOUTS = {"connect": 2, "first_byte": 1, "idle": 1, "total": 30}
SLOW = {"connect": 5, "first_byte": 60, "idle": 60, "total": 120}
JOB_POOL = job_pool_size()  # the job threads of the server's worker process
READER_POOL_SLACK = min(32, (os.cpu_count() or 1) + 4)  # pygls' stdin reader pool, lazily grown


@dataclass
class Scenario:
    """One stage meeting one failure; the wrong first reply of an escalation waits at a gate."""

    name: str
    stage: str
    two: bool
    gate: Path
    started: Path

    @property
    def escalates(self) -> bool:
        return self.stage.endswith("escalation")

    def wrong_average(self) -> str:
        return (
            "def average(values):\n"
            "    import os, time\n"
            f"    open({str(self.started)!r}, 'w').close()\n"
            f"    while not os.path.exists({str(self.gate)!r}):\n"
            "        time.sleep(0.01)\n"
            "    return sum(values) / 0\n"
        )

    def wrong_mean(self) -> str:
        return (
            "def mean(xs):\n"
            '    """Return the mean of xs."""\n'
            "    import os, time\n"
            f"    open({str(self.started)!r}, 'w').close()\n"
            f"    while not os.path.exists({str(self.gate)!r}):\n"
            "        time.sleep(0.01)\n"
            "    return sum(xs) / 0\n"
        )


class Router:
    """Answers each kind of prompt like a model would; shared by every fake."""

    def __init__(self) -> None:
        self.scenario: Scenario | None = None

    def __call__(self, body: dict[str, Any]) -> str:
        prompt = body.get("prompt") or json.dumps(body.get("messages"))
        scenario = self.scenario
        if "numbered steps" in prompt:
            return APPROACH
        if "Rate how well" in prompt:
            return SCORE
        if "Fix the bugs" in prompt:
            if scenario is not None and scenario.escalates and "Attempt 1 did not" not in prompt:
                return fence(scenario.wrong_average())
            return fence(FIXED_FUNCTION)
        if "Write a complete" in prompt:
            if scenario is not None and scenario.escalates and "Attempt 1 failed" not in prompt:
                return fence(scenario.wrong_mean())
            return fence(GOOD_MEAN)
        return "I do not know what you want."


def _config(
    write_config: Callable[..., Path],
    name: str,
    roles: dict[str, list[str]],
    timeouts: dict[str, float] | None = None,
) -> Path:
    models: dict[str, Any] = {
        "generator": {"model": "codellama", "endpoints": roles["generator"]},
        "overseer": {"model": "llama3", "endpoints": roles["overseer"]},
        "evaluator": {"model": "llama3", "endpoints": roles["evaluator"]},
    }
    return write_config(
        {
            "ollama": {
                "base_url": "http://127.0.0.1:9",
                "timeouts": timeouts or TIMEOUTS,
                "models": models,
            },
            # One candidate at a time: these stages test failover within one request (two
            # candidates would let the healthy endpoint's answer hide the failing one).
            "generate": {
                "related_functions": 0,
                "use_overseer": True,
                "write_tests": False,
                "use_evaluator": True,
                "candidates": 1,
            },
            "fix": {"candidates": 1},
        },
        name=f"{name}.yaml",
    )


def _load(editor: Editor, config: Path) -> None:
    editor.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"codeEvolver": {"configPath": str(config)}})
    )


async def _warm_up(editor: Editor, fake: FakeOllama, write_config: Callable[..., Path]) -> None:
    """As many fixes at once as the server has job threads, so its pool is full before the
    census; of a language that is not run, so that no program starts."""
    fake.latency = 0.5
    fake.reply_fn = lambda body: fence(RUST_FIXED, "rust")
    _load(
        editor,
        _config(
            write_config, "warm", {r: [fake.url] for r in ("generator", "overseer", "evaluator")}
        ),
    )
    uris = [editor.open(f"warm{i}.rs", RUST, language="rust") for i in range(JOB_POOL)]
    protocol = editor.client.protocol
    results = await asyncio.gather(
        *(
            protocol.send_request_async("workspace/executeCommand", _fix_params(uri, 1, "types"))
            for uri in uris
        )
    )
    assert all(r["applied"] for r in results), results


async def _run(
    editor: Editor,
    router: Router,
    fakes: dict[str, FakeOllama],
    kind: str,
    stage: str,
    two: bool,
    tmp: Path,
    write_config: Callable[..., Path],
) -> None:
    mode, kw = KINDS[kind]
    name = f"{kind}-{stage}-{'two' if two else 'one'}"
    for fake in fakes.values():
        fake.fail(None)
    scenario = Scenario(name, stage, two, tmp / f"{name}.gate", tmp / f"{name}.started")
    if not scenario.escalates:
        scenario.gate.touch()
    router.scenario = scenario
    pairs = {"generator": ("g1", "g2"), "overseer": ("o1", "o2"), "evaluator": ("e1", "e2")}
    roles = {
        role: [fakes[k].url for k in (keys if two else keys[:1])] for role, keys in pairs.items()
    }
    _load(editor, _config(write_config, name, roles))
    fixing = stage.startswith("fix")
    source = BUGGY if fixing else STUB
    uri = editor.open(f"{name.replace('-', '_')}.py", source)
    on_disk = editor.root / f"{name.replace('-', '_')}.py"
    bad = {
        "fix_first": "g1",
        "gen_first": "g1",
        "overseer": "o1",
        "evaluator": "e1",
        # A fix's attempts stay on the endpoint that served its first (session affinity):
        # the escalation meets the failure there and fails over to the other.
        "fix_escalation": "g1",
        "gen_escalation": "g2" if two else "g1",
    }[stage]
    if not scenario.escalates:
        fakes[bad].fail(mode, **kw)
    shown, logged, edits = (
        len(editor.client.messages),
        len(editor.client.log_messages),
        len(editor.edits),
    )
    asked = {key: len(fake.requests) for key, fake in fakes.items()}
    command = "codeEvolver.fixDiagnostics" if fixing else "codeEvolver.generateFunction"
    task = asyncio.create_task(editor.command(command, uri=uri, range=whole_range(1)))
    if scenario.escalates:
        # The first (wrong) candidate is being verified: now the endpoint breaks.
        assert await editor.wait_for(scenario.started.exists), name
        fakes[bad].fail(mode, **kw)
        scenario.gate.touch()
    result = await asyncio.wait_for(task, 90)
    new_shown = editor.client.messages[shown:]
    new_logs = [m.message for m in editor.client.log_messages[logged:]]
    context = (name, result, [m.message for m in new_shown])
    assert on_disk.read_text() == source, context  # verification never writes the real file
    advisory = stage in ("overseer", "evaluator")
    if advisory or (two and kind != "status400"):
        assert result["applied"] is True, context
        assert editor.texts[uri] == (FIXED if fixing else GENERATED), context
        assert [m.type for m in new_shown] == [types.MessageType.Info], context
        if not advisory:
            assert any(fakes[bad].url in m and "failed" in m for m in new_logs), context
    else:
        assert result["applied"] is False, context
        assert editor.texts[uri] == source and len(editor.edits) == edits, context
        assert len(new_shown) == 1 and new_shown[0].type == types.MessageType.Error, context
        sentence = new_shown[0].message
        assert "\n" not in sentence and fakes[bad].url in sentence, context
        assert "internal error" not in sentence, context
        if kind == "status404":
            assert "ollama pull codellama" in sentence, context
        if kind == "status400":
            assert "rejected" in sentence, context
    served = kind != "status400" and two
    if stage == "overseer":
        prompts = [r.body["prompt"] for r in fakes["g1"].requests[asked["g1"] :]]
        assert prompts and all(("Suggested approach" in p) == served for p in prompts), context
        if not served:
            assert any("Overseer unavailable" in m for m in new_logs), context
    if stage == "evaluator":
        assert ("evaluator score 9/10" in result["message"]) == served, context
        if not served:
            assert any("Evaluator unavailable" in m for m in new_logs), context


@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_stage_survives_the_failure(
    kind: str, tmp_path: Path, fake_factory, write_config
) -> None:
    router = Router()
    fakes = {key: fake_factory(name=key) for key in ("g1", "g2", "o1", "o2", "e1", "e2", "w")}
    for fake in fakes.values():
        fake.reply_fn = router
    warm = fakes.pop("w")
    async with lsp_session(tmp_path / "ws", None) as editor:
        pid = server_pid(editor)
        await _warm_up(editor, warm, write_config)
        baseline = census(pid)
        for stage in STAGES:
            for two in (False, True):
                await _run(editor, router, fakes, kind, stage, two, tmp_path, write_config)
        for fake in fakes.values():
            fake.fail(None)
        # Threads: the job pool is full since the warm-up; pygls' reader pool may still grow.
        # Sockets are counted in test_failed_requests_leave_no_socket_behind (one client):
        # here every scenario swaps the client, whose idle connections urllib3 closes late
        # (see test_closing_the_client_closes_its_connections).
        limit = ProcessCensus(baseline.threads + READER_POOL_SLACK, 10**6, ())
        after = await settle(pid, limit)
        assert after.within(limit), (baseline, after)
        assert all(f.wait_for(lambda f=f: f.active == 0, timeout=10) for f in fakes.values())
        assert not any("internal error" in m for m in editor.messages())


async def test_failed_requests_leave_no_socket_behind(
    tmp_path: Path, fake_factory, write_config
) -> None:
    """One client meets every failure in turn: afterwards it holds one idle connection at most."""
    fake = fake_factory()
    fake.reply = fence(FIXED_FUNCTION)
    config = _config(
        write_config, "one", {r: [fake.url] for r in ("generator", "overseer", "evaluator")}
    )
    async with lsp_session(tmp_path / "ws", config) as editor:
        pid = server_pid(editor)
        await editor.actions(editor.open("probe.py", "x = 1\n"), 0)
        baseline = census(pid)
        for number, (kind, (mode, kw)) in enumerate(KINDS.items()):
            fake.fail(mode, **kw)
            failing = editor.open(f"failing{number}.py", BUGGY)
            result = await editor.command("codeEvolver.fixDiagnostics", uri=failing)
            assert result["applied"] is False, (kind, result)
            fake.fail(None)
            working = editor.open(f"working{number}.py", BUGGY)
            result = await editor.command("codeEvolver.fixDiagnostics", uri=working)
            assert result["applied"] is True, (kind, result)
        limit = ProcessCensus(
            baseline.threads + JOB_POOL + READER_POOL_SLACK, baseline.sockets + 1, ()
        )
        after = await settle(pid, limit)
        assert after.within(limit), (baseline, after, socket_peers(pid, with_worker=True))
        assert fake.wait_for(lambda: fake.active == 0, timeout=10)


def test_closing_the_client_closes_its_connections(fake_factory, write_config) -> None:
    failing, alive = fake_factory(), fake_factory()
    failing.fail("status", code=500)  # a whole answer: its connection goes back to the pool
    client = _client(write_config, [failing.url, alive.url])
    result = client.generate_full(prompt="x", model_key="generator")
    assert result.endpoint == alive.url and len(result.failures) == 1
    client.close()
    # The failure kept for the caller holds the request's frames, and through them the pool.
    assert wait_until(lambda: not tcp_connections_to(failing.port), timeout=3)


# ---------------------------------------------------------------- endpoints that misbehave


def _client(write_config, urls: list[str], **extra: Any) -> OllamaClient:
    timeouts = {**TIMEOUTS, **extra.pop("timeouts", {})}
    data: dict[str, Any] = {
        "ollama": {
            "base_url": "http://127.0.0.1:9",
            "timeouts": timeouts,
            "models": {"generator": {"endpoints": urls}},
        }
    }
    data.update(extra)
    config = ConfigManager(write_config(data))
    return OllamaClient(config.ollama_url, config_manager=config)


def test_endpoint_dying_mid_stream_fails_over_and_is_closed(fake_factory, write_config) -> None:
    dying, alive = fake_factory(), fake_factory()
    dying.reply = alive.reply = "def f():\n    return 1\n" * 4
    dying.fail("break", after=3)
    with _client(write_config, [dying.url, alive.url]) as client:
        result = client.generate_full(prompt="x", model_key="generator")
    assert result.endpoint == alive.url and result.text == alive.reply
    assert isinstance(result.failures[0], StreamError)
    assert dying.wait_for(lambda: dying.active == 0)


def test_a_slow_drip_is_ended_by_the_total_timeout(fake_factory, write_config) -> None:
    fake = fake_factory()
    fake.fail("drip", interval=0.1)  # a byte every 0.1 s: never idle, never a whole line
    with (
        _client(write_config, [fake.url], timeouts={"total": 2}) as client,
        pytest.raises(AllEndpointsFailed) as info,
    ):
        client.generate(prompt="x", model_key="generator")
    [error] = info.value.failures
    assert isinstance(error, EndpointTimeout) and error.phase == "total"
    assert "timeouts.total" in str(error)
    assert fake.wait_for(lambda: fake.disconnects >= 1, timeout=10)


def test_a_fast_drip_is_ended_by_the_output_cap(fake_factory, write_config) -> None:
    fake = fake_factory()
    fake.fail("drip", interval=0.0, byte=b" " * 65536)  # a flood that is never a line
    with (
        _client(write_config, [fake.url], timeouts={"total": 600}, max_output_chars=1000) as client,
        pytest.raises(AllEndpointsFailed) as info,
    ):
        client.generate(prompt="x", model_key="generator")
    [error] = info.value.failures
    assert isinstance(error, OutputTooLarge) and "max_output_chars" in str(error)
    assert fake.wait_for(lambda: fake.disconnects >= 1, timeout=10)


@pytest.mark.parametrize(
    "max_output_chars",
    [
        1000,  # the byte cap in the transport (4 bytes a character) trips on the first read
        200_000,
    ],
)
def test_a_two_gigabyte_reply_is_cut_at_the_output_cap(
    fake_factory, write_config, max_output_chars
) -> None:
    huge, alive = fake_factory(), fake_factory()
    huge.fail("huge")  # 2 GB of 64-character pieces, as fast as the socket takes them
    with _client(write_config, [huge.url, alive.url], max_output_chars=max_output_chars) as client:
        result = client.generate_full(prompt="x", model_key="generator")
    assert result.endpoint == alive.url
    [error] = result.failures
    assert isinstance(error, OutputTooLarge) and "max_output_chars" in str(error)
    assert huge.wait_for(lambda: huge.active == 0, timeout=5)  # it stopped sending


def test_a_reply_within_max_output_chars_is_accepted(fake_factory, write_config) -> None:
    fake = fake_factory()
    fake.reply = "x = 1\n" * 6_000  # 36 000 characters, streamed 4 to a line as Ollama does
    with _client(write_config, [fake.url], max_output_chars=50_000) as client:
        assert client.generate(prompt="x", model_key="generator") == fake.reply


def test_an_endpoint_slow_to_accept_is_a_first_byte_timeout(fake_factory, write_config) -> None:
    slow, alive = fake_factory(), fake_factory()
    slow.fail("slow_accept", delay=5)
    with _client(write_config, [slow.url, alive.url]) as client:
        result = client.generate_full(prompt="x", model_key="generator")
    assert result.endpoint == alive.url
    [error] = result.failures
    assert isinstance(error, EndpointTimeout) and error.phase == "first_byte"
    slow.fail(None)


def test_an_endpoint_a_little_slow_to_accept_still_serves(fake_factory, write_config) -> None:
    slow = fake_factory()
    slow.fail("slow_accept", delay=0.3, times=1)
    with _client(write_config, [slow.url], timeouts={"first_byte": 10}) as client:
        result = client.generate_full(prompt="x", model_key="generator")
    assert result.endpoint == slow.url and result.failures == ()


async def test_a_long_multi_line_error_body_still_gives_one_short_sentence(
    tmp_path: Path, fake, write_config
) -> None:
    fake.fail("status", code=400, body={"error": "bad options:\n" + "option stack\n" * 2000})
    config = _config(
        write_config, "long-error", {r: [fake.url] for r in ("generator", "overseer", "evaluator")}
    )
    async with lsp_session(tmp_path / "ws", config) as editor:
        uri = editor.open("buggy.py", BUGGY)
        result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
        assert result["applied"] is False
        [sentence] = errors(editor)
        assert "\n" not in sentence and len(sentence) < 600
        assert any("bad options" in m for m in logs(editor))


# ---------------------------------------------------------------- a burst of requests

RUST = 'fn main() {\n    let x: i32 = "one";\n    println!("{}", x);\n}\n'
RUST_FIXED = 'fn main() {\n    let x: i32 = 1;\n    println!("{}", x);\n}\n'


def _fix_params(uri: str, line: int, message: str) -> types.ExecuteCommandParams:
    diagnostic = {
        "range": {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 10}},
        "message": message,
        "source": "rustc",
    }
    return types.ExecuteCommandParams(
        command="codeEvolver.fixDiagnostics", arguments=[{"uri": uri, "diagnostics": [diagnostic]}]
    )


async def test_a_burst_with_cancellations_leaves_nothing_in_flight(
    tmp_path: Path, fake, write_config
) -> None:
    fake.reply_fn = lambda body: (
        fence(RUST_FIXED, "rust") if "rust" in body["prompt"] else fence(FIXED_FUNCTION)
    )
    fake.latency = 0.3
    config = _config(
        write_config, "burst", {r: [fake.url] for r in ("generator", "overseer", "evaluator")}, SLOW
    )
    async with lsp_session(
        tmp_path / "ws", config, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        pid = server_pid(editor)
        python = [editor.open(f"p{i}.py", BUGGY) for i in range(10)]
        rust = [editor.open(f"r{i}.rs", RUST, language="rust") for i in range(10)]
        await editor.actions(python[0], 0)
        baseline = census(pid)
        protocol = editor.client.protocol
        commands = []
        for i in range(50):
            params = (
                _fix_params(python[i % 10], 4, "division by the wrong name")
                if i % 2
                else _fix_params(rust[i % 10], 1, "mismatched types")
            )
            commands.append(
                asyncio.ensure_future(
                    protocol.send_request_async(
                        "workspace/executeCommand", params, msg_id=f"burst-{i}"
                    )
                )
            )
        diagnostic = types.Diagnostic(
            range=types.Range(
                start=types.Position(line=4, character=0), end=types.Position(line=4, character=5)
            ),
            message="boom",
        )
        lightbulbs = [
            asyncio.ensure_future(editor.actions((python + rust)[i % 20], i % 6, [diagnostic]))
            for i in range(500)
        ]
        assert await editor.wait_for(lambda: fake.active > 0)
        for i in range(0, 50, 5):  # an editor giving up on a request
            give_up(editor, f"burst-{i}", commands[i])
        assert await editor.wait_for(lambda: len(editor.client.progress_reports) >= 5)
        for token in list(editor.client.progress_reports)[:10]:  # the progress bar's cancel
            editor.client.window_work_done_progress_cancel(
                types.WorkDoneProgressCancelParams(token=token)
            )
        answered = await asyncio.wait_for(asyncio.gather(*lightbulbs), 120)
        assert all(len(actions) == 2 for actions in answered)
        outcomes = await asyncio.wait_for(asyncio.gather(*commands, return_exceptions=True), 120)
        finished = [o for o in outcomes if isinstance(o, dict)]
        assert len(finished) >= 25 and all("applied" in o for o in finished)
        unexpected = [o for o in outcomes if not isinstance(o, (dict, asyncio.CancelledError))]
        assert unexpected == []
        # Still responsive, and nothing left in flight anywhere.
        assert len(await asyncio.wait_for(editor.actions(rust[0], 1, [diagnostic]), 30)) == 2
        assert fake.wait_for(lambda: fake.active == 0 and fake.queued == 0, timeout=30)
        limit = ProcessCensus(
            baseline.threads + JOB_POOL + READER_POOL_SLACK, baseline.sockets + JOB_POOL, ()
        )
        after = await settle(pid, limit, timeout=30)
        assert after.within(limit), (baseline, after)
        assert not any("internal error" in m for m in editor.messages())


async def test_cancel_request_stops_the_command(tmp_path: Path, fake, write_config) -> None:
    fake.reply = fence(FIXED_FUNCTION)
    fake.latency = 3.0
    config = _config(
        write_config,
        "cancel",
        {r: [fake.url] for r in ("generator", "overseer", "evaluator")},
        SLOW,
    )
    async with lsp_session(tmp_path / "ws", config) as editor:
        uri = editor.open("buggy.py", BUGGY)
        params = types.ExecuteCommandParams(
            command="codeEvolver.fixDiagnostics", arguments=[{"uri": uri}]
        )
        task = asyncio.ensure_future(
            editor.client.protocol.send_request_async(
                "workspace/executeCommand", params, msg_id="fix-1"
            )
        )
        assert await editor.wait_for(lambda: fake.active == 1)
        editor.client.protocol.notify("$/cancelRequest", types.CancelParams(id="fix-1"))
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(task, 30)
        # The model request is abandoned (its connection closed) and nothing is applied.
        assert fake.wait_for(lambda: fake.disconnects == 1, timeout=5)
        await asyncio.sleep(0.5)
        assert editor.edits == [] and editor.texts[uri] == BUGGY
