"""Running the user's code safely, and keeping secrets out of everything the server says.

The checker runs files through the real runner with settings loaded from config.yaml: no shell,
limits on time, output, memory and CPU, its own process group, secrets stripped. An untrusted
workspace runs nothing and its config.yaml is not read. Verification never touches the real
file. Header values from the environment never reach a message, and prompts stay bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from reliability_kit import fence, logs, lsp_session, server_pid, wait_until, whole_range

from code_evolver import ConfigManager
from code_evolver.pipeline.checker import Checker
from code_evolver.sandbox.sweep import MARKER, PREFIX
from code_evolver.values import Target
from conftest import role_config
from lsp_harness import Editor, diagnostic
from processes import worker_of
from samples import BUGGY, FIXED_FUNCTION
from sandbox_kit import kill_marked, marked, new_mark, sleeper

SECRETS = {
    "MY_API_KEY": "k-1",
    "GITHUB_TOKEN": "t-2",
    "DB_PASSWORD": "p-3",
    "CLIENT_SECRET": "s-4",
    "openai_api_key": "k-5",
    "Session_Token_X": "t-6",
}


def _checker(
    tmp_path: Path, write_config, extra: dict[str, Any], name: str = "prog.py", trusted: bool = True
) -> Checker:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    settings = ConfigManager(write_config(extra)).settings
    target = Target(str(workspace / name), "python", str(workspace))
    return Checker(target, settings, trusted=trusted)


# ---------------------------------------------------------------- the runner, through config.yaml

SHELLISH = [
    "; touch {m}",
    "$(touch {m})",
    "`touch {m}`",
    "&& touch {m}",
    "| tee {m}",
    "> {m}",
    "*",
    "~",
    "$HOME",
    "'quoted' \"twice\"",
    "a\nb",
    "\\",
]


def test_a_run_command_with_shell_metacharacters_is_passed_literally(
    tmp_path: Path, write_config
) -> None:
    marker = tmp_path / "shell-ran"
    args = [a.replace("{m}", str(marker)) for a in SHELLISH]
    with _checker(
        tmp_path, write_config, {"run": {"python": ["{python}", "{file}", *args]}}
    ) as checker:
        check = checker.check("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    assert check.run is not None and check.run.ok, check.details
    assert json.loads(check.run.stdout) == args
    assert not marker.exists()
    assert check.run.argv[0] == sys.executable and check.run.argv[2:] == tuple(args)


LIMITS_PROGRAM = """import json, os, resource
print(json.dumps({
    "cpu": resource.getrlimit(resource.RLIMIT_CPU),
    "memory": resource.getrlimit(resource.RLIMIT_AS)[0],
    "core": resource.getrlimit(resource.RLIMIT_CORE)[0],
    "pid": os.getpid(),
    "parent": os.getppid(),
    "leads_group": os.getpgid(0) == os.getpid(),
}))
"""


def test_runs_get_the_configured_limits_and_are_contained(
    tmp_path: Path, write_config, isolation: str
) -> None:
    config = {"fix": {"run_timeout": 3, "memory_limit_mb": 512, "output_limit": 1000}}
    with _checker(tmp_path, write_config, config) as checker:
        check = checker.check(LIMITS_PROGRAM)
    assert check.run is not None and check.run.ok, check.details
    seen = json.loads(check.run.stdout)
    assert seen["cpu"] == [3, 4]  # fix.run_timeout seconds of CPU; SIGKILL one second later
    assert seen["memory"] == 512 * 1024 * 1024
    assert seen["core"] == 0
    if isolation == "namespaces":
        # In a PID namespace of its own, started by that namespace's first process (its shell)
        assert seen["parent"] == 1 and seen["pid"] < 10
    else:
        assert seen["leads_group"]  # its own process group, killed as one


@pytest.mark.parametrize(
    ("program", "expect"),
    [
        ("while True:\n    pass\n", "used its 1 s of CPU time"),
        ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", "output was truncated"),
        ("x = bytearray(2 * 1024 ** 3)\n", "MemoryError"),
    ],
)
def test_a_run_is_stopped_at_its_limits(
    tmp_path: Path, write_config, program: str, expect: str, isolation: str
) -> None:
    config = {"fix": {"run_timeout": 1, "memory_limit_mb": 256, "output_limit": 1000}}
    with _checker(tmp_path, write_config, config) as checker:
        check = checker.check(program)
    assert check.run is not None and not check.run.ok
    assert expect in check.summary + check.details
    assert len(check.run.stdout) <= 1000 and len(check.run.stderr) <= 1000


def test_a_programs_leftover_children_are_killed(
    tmp_path: Path, write_config, isolation: str
) -> None:
    mark = new_mark()
    program = (
        f"import os, time\nif os.fork() == 0:\n    {sleeper(mark)}\nelse:\n    time.sleep(0.5)\n"
    )
    try:
        with _checker(tmp_path, write_config, {"fix": {"run_timeout": 5}}) as checker:
            check = checker.check(program)
        assert check.run is not None and check.run.ok, check.details
        assert wait_until(lambda: not marked(mark), timeout=10)
    finally:
        kill_marked(mark)


def test_a_child_that_leaves_the_group_dies_with_the_run(
    tmp_path: Path, write_config, isolation: str
) -> None:
    """setsid() escapes the process group, so the group kill misses it; the PID namespace (or,
    in a copy, the mark every process of a run carries in its environment) does not."""
    mark = new_mark()
    program = (
        "import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n"
        f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; "
        f"time.sleep(60)', {mark!r}])\n"
        "time.sleep(0.5)\nwhile True:\n    pass\n"
    )
    try:
        with _checker(tmp_path, write_config, {"fix": {"run_timeout": 1}}) as checker:
            check = checker.check(program)
        assert check.run is not None and check.run.hit_limit, check.details
        assert wait_until(lambda: not marked(mark), timeout=10)
    finally:
        kill_marked(mark)


def test_a_daemon_started_by_a_run_that_exits_normally_dies_too(
    tmp_path: Path, write_config, isolation: str
) -> None:
    """The classic double fork: the program exits 0 at once and leaves a session leader
    behind that would otherwise run on for its whole life."""
    mark = new_mark()
    program = (
        "import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; "
        f"time.sleep(60)', {mark!r}])\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\nprint('started')\n"
    )
    try:
        with _checker(tmp_path, write_config, {"fix": {"run_timeout": 20}}) as checker:
            check = checker.check(program)
        assert check.run is not None and check.run.ok, check.details
        assert wait_until(lambda: not marked(mark), timeout=10)
    finally:
        kill_marked(mark)


def test_a_run_out_of_time_names_the_limit_and_its_key(
    tmp_path: Path, write_config, isolation: str
) -> None:
    with _checker(tmp_path, write_config, {"fix": {"run_timeout": 1}}) as checker:
        check = checker.check("while True:\n    pass\n")
    assert check.summary.endswith(
        "used its 1 s of CPU time and was stopped (the CPU-time limit, fix.run_timeout)"
    )
    assert check.failures >= 100  # as bad as a time-out: worse than any failing test


ENV_PROGRAM = "import json, os\nprint(json.dumps(dict(os.environ)))\n"


@pytest.mark.parametrize("strip", [True, False])
def test_secrets_are_stripped_from_runs_unless_configured(
    tmp_path: Path, write_config, monkeypatch, strip: bool
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CE_HARMLESS", "kept")
    with _checker(tmp_path, write_config, {"strip_secrets": strip}) as checker:
        check = checker.check(ENV_PROGRAM)
    seen = json.loads(check.run.stdout)
    assert seen["CE_HARMLESS"] == "kept"
    if strip:
        assert not set(SECRETS) & set(seen)
        assert not set(SECRETS.values()) & set(seen.values())
    else:
        assert {k: seen[k] for k in SECRETS} == SECRETS


def test_an_untrusted_checker_runs_nothing(tmp_path: Path, write_config) -> None:
    marker = tmp_path / "ran"
    with _checker(tmp_path, write_config, {}, trusted=False) as checker:
        check = checker.check(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    assert check.run is None and check.tests is None and not marker.exists()


def test_verification_never_writes_the_real_file(
    tmp_path: Path, write_config, isolation: str
) -> None:
    with _checker(tmp_path, write_config, {}) as checker:
        real = Path(checker.target.path)
        real.write_text("print('original')\n")
        before = real.stat().st_mtime_ns
        program = (
            "import os, sys\nprint(os.path.abspath(sys.argv[0]))\n"
            "print(open(sys.argv[0]).read().startswith('import os'))\n"
        )
        check = checker.check(program)
        scratch = Path(checker.sandbox.scratch)
    assert real.read_text() == "print('original')\n" and real.stat().st_mtime_ns == before
    # The run read the candidate, and its output names the real path, not a copy's.
    assert check.run.stdout.split() == [str(real), "True"]
    assert not scratch.exists()  # and the sandbox is gone


def _scratch_folders_of(pid: int) -> list[Path]:
    """The marked scratch folders (sandbox/sweep.py) that process `pid` owns."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int((folder / MARKER).read_text().split()[0]) == pid:
                found.append(folder)
    return found


async def test_killing_the_worker_mid_run_leaves_no_process_and_no_scratch_folder(
    tmp_path: Path, fake_factory, write_config, isolation: str
) -> None:
    """The run dies with the worker's thread (PR_SET_PDEATHSIG; with namespaces, everything it
    started dies with it), and the next worker removes the dead one's scratch folders. The
    copy fallback cannot reach a child that left the process group: it has none here."""
    fake = fake_factory(reply=fence(FIXED_FUNCTION))
    config = write_config(role_config({"generator": [fake.url]}))
    mark = new_mark()
    daemon = (
        f"if os.fork() == 0:\n    os.setsid()\n    {sleeper(mark + '-daemon')}\n"
        if isolation == "namespaces"
        else ""
    )
    program = f"import os, sys, time\n{daemon}time.sleep(60)\n" + BUGGY
    try:
        async with lsp_session(tmp_path / "ws", config) as editor:
            pid = server_pid(editor)
            first = f"{mark}.py"  # the program's command line names it, copied or not
            uri = editor.open(first, program)
            task = asyncio.ensure_future(editor.command("codeEvolver.fixDiagnostics", uri=uri))
            assert await editor.wait_for(lambda: marked(mark + "-daemon" if daemon else mark))
            worker = worker_of(pid)
            assert worker is not None
            left = _scratch_folders_of(worker)
            assert left
            os.kill(worker, signal.SIGKILL)
            result = await asyncio.wait_for(task, 30)
            assert result["applied"] is False
            assert wait_until(lambda: not marked(mark), timeout=10)

            second = editor.open("second.py", BUGGY)
            result = await editor.command("codeEvolver.fixDiagnostics", uri=second)
            assert result["applied"] is True, result
            assert not [folder for folder in left if folder.exists()]
    finally:
        kill_marked(mark)


# ---------------------------------------------------------------- through the language server


@pytest.fixture
def config(fake, write_config) -> Path:
    return write_config(
        role_config({"generator": [fake.url], "overseer": [fake.url], "evaluator": [fake.url]})
    )


def _snapshot(path: Path) -> tuple[str, int]:
    return path.read_text(), path.stat().st_mtime_ns


async def test_the_server_passes_run_arguments_literally(
    tmp_path: Path, fake, write_config
) -> None:
    marker = tmp_path / "shell-ran"
    args = [a.replace("{m}", str(marker)) for a in SHELLISH[:6]]
    fake.reply = fence(FIXED_FUNCTION)
    data = role_config({"generator": [fake.url]})
    data["run"] = {"python": ["{python}", "{file}", *args]}
    async with lsp_session(tmp_path / "ws", write_config(data)) as editor:
        uri = editor.open("buggy.py", BUGGY)
        result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
        assert result["applied"] is True
    prompt = fake.requests[-1].body["prompt"]
    assert f"{sys.executable} {editor.root / 'buggy.py'} " + " ".join(args) in prompt
    assert not marker.exists()


MEDIAN = 'def median(xs):\n    """Middle."""\n    return sorted(xs)[len(xs) // 2]\n'


def _router(tests: str) -> Any:
    def reply(body: dict[str, Any]) -> str:
        prompt = body["prompt"]
        if prompt.startswith("Write pytest unit tests"):
            return tests
        if prompt.startswith("Write a complete"):
            return fence(MEDIAN)
        if prompt.startswith("Fix the bugs"):
            return fence(FIXED_FUNCTION)
        return "1. Sort.\n2. Take the middle."

    return reply


async def test_verification_never_writes_the_users_files(tmp_path: Path, fake, config) -> None:
    fake.reply_fn = _router(
        fence(
            "def test_average():\n    from buggy import average\n    assert average([2, 4]) == 3\n"
        )
    )
    async with lsp_session(
        tmp_path / "ws", config, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("buggy.py", BUGGY + '\n\ndef median(xs):\n    """Middle."""\n    pass\n')
        real = editor.root / "buggy.py"
        before = _snapshot(real)
        fixed = await editor.command("codeEvolver.fixDiagnostics", uri=uri, range=whole_range(4))
        assert fixed["applied"] is True
        generated = await editor.command(
            "codeEvolver.generateFunction", uri=uri, range=whole_range(11)
        )
        assert generated["applied"] is True, generated
        tests = await editor.command("codeEvolver.generateTests", uri=uri, range=whole_range(2))
        assert tests["applied"] is True, tests
        assert _snapshot(real) == before  # every change went through the editor
        assert not (editor.root / "tests").exists()  # the test file is an edit, not a write
        assert "def median" in editor.texts[uri] and "len(values)" in editor.texts[uri]


async def test_an_untrusted_workspace_runs_nothing(tmp_path: Path, fake, config) -> None:
    marker = tmp_path / "ran"
    touch = f"open({str(marker)!r}, 'a').write('x')\n"
    fake.reply_fn = _router(fence(f"{touch}def test_it():\n    assert True\n"))
    source = touch + BUGGY + '\n\ndef median(xs):\n    """Middle."""\n    pass\n'
    async with lsp_session(
        tmp_path / "ws",
        config,
        trusted=False,
        overrides={
            "run_on_save": True,
            "fix": {"max_attempts": 1},
            "test_command": ["{python}", "-c", touch],
        },
    ) as editor:
        uri = editor.open("buggy.py", source)
        editor.open("tests/test_buggy.py", f"{touch}def test_x():\n    pass\n")
        await editor.command(
            "codeEvolver.fixDiagnostics",
            uri=uri,
            diagnostics=[{"range": whole_range(5), "message": "name 'value' is not defined"}],
        )
        await editor.command("codeEvolver.generateFunction", uri=uri, range=whole_range(12))
        await editor.command("codeEvolver.generateTests", uri=uri, range=whole_range(2))
        editor.client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        await editor.actions(uri, 0)  # the save has been handled
        assert fake.generate_count >= 3
    assert not marker.exists()


async def test_an_untrusted_workspace_config_is_not_read(
    tmp_path: Path, fake, write_config
) -> None:
    marker = tmp_path / "ran"
    root = tmp_path / "ws"
    root.mkdir()
    inside = root / ".vscode" / "code-evolver.yaml"
    inside.parent.mkdir()
    evil = role_config({"generator": [fake.url]})
    evil["ollama"]["models"]["generator"]["model"] = "evil-model"
    evil["run"] = {"python": ["{python}", "-c", f"open({str(marker)!r}, 'w')"]}
    inside.write_text(json.dumps(evil))
    linked = tmp_path / "outside-link.yaml"
    linked.symlink_to(inside)
    for path in (inside, linked):
        async with lsp_session(root, path, trusted=False) as editor:
            uri = editor.open("buggy.py", BUGGY)
            assert await editor.wait_for(lambda: editor.client.messages)
            [warning] = [m.message for m in editor.client.messages]
            assert "untrusted" in warning and str(path) in warning
            titles = [a.title for a in await editor.actions(uri, 4, [diagnostic(4, "x")])]
            assert titles[0].startswith("Fix with codellama")  # not evil-model
            editor.client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(
                    settings={"codeEvolver": {"configPath": str(path)}}
                )
            )
            titles = [a.title for a in await editor.actions(uri, 4, [diagnostic(4, "x")])]
            assert titles[0].startswith("Fix with codellama")
            assert sum("untrusted" in m for m in editor.messages()) == 2
    async with lsp_session(root, inside, trusted=True) as editor:  # trusted: it is read
        uri = editor.open("buggy.py", BUGGY)
        titles = [a.title for a in await editor.actions(uri, 4, [diagnostic(4, "x")])]
        assert titles[0].startswith("Fix with evil-model")
    assert not marker.exists()


async def test_secrets_do_not_reach_the_models_prompt(tmp_path: Path, fake, config) -> None:
    leaky = "import os, sys\nsys.stderr.write(repr(dict(os.environ)))\nraise SystemExit(1)\n"
    fake.reply = fence("print('fine')\n")
    env = {**os.environ, **SECRETS}
    async with lsp_session(
        tmp_path / "ws", config, env=env, overrides={"fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("leaky.py", leaky)
        await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    prompt = fake.requests[-1].body["prompt"]
    assert "Running the code gave" in prompt and "PATH" in prompt
    assert not [value for value in SECRETS.values() if f"'{value}'" in prompt]


# ---------------------------------------------------------------- secrets and privacy

HEADER_SECRET = "Bearer hdr-s3cret-0000"
KEY_SECRET = "sk-key-s3cret-1111"


def _secret_config(write_config, header_url: str, key_url: str) -> Path:
    data = role_config({})
    for role in ("generator", "overseer", "evaluator"):
        data["ollama"]["models"][role]["endpoints"] = [
            {"url": header_url, "headers_env": {"Authorization": "CE_TEST_HEADER"}},
            {"url": key_url, "key_env": "CE_TEST_KEY"},
        ]
    return write_config(data)


def _secret_env() -> dict[str, str]:
    return {**os.environ, "CE_TEST_HEADER": HEADER_SECRET, "CE_TEST_KEY": KEY_SECRET}


def _leaks(texts: list[str]) -> list[str]:
    parts = (HEADER_SECRET, "hdr-s3cret", KEY_SECRET, "key-s3cret")
    return [t for t in texts if any(p in t for p in parts)]


async def _everything_said(editor: Editor) -> list[str]:
    status = await editor.command("codeEvolver.showStatus")
    return [*editor.messages(), *logs(editor), status["text"], json.dumps(status)]


async def test_header_values_never_appear_in_messages(
    tmp_path: Path, fake_factory, write_config
) -> None:
    first, second = fake_factory(), fake_factory()
    first.reply = second.reply = fence(FIXED_FUNCTION)
    config = _secret_config(write_config, first.url, second.url)
    async with lsp_session(tmp_path / "ws", config, env=_secret_env()) as editor:
        uri = editor.open("ok.py", BUGGY)
        assert (await editor.command("codeEvolver.fixDiagnostics", uri=uri))["applied"]
        first.fail("status", code=500)
        second.fail("status", code=401, body={"error": "unauthorized"})
        failing = editor.open("failing.py", BUGGY)
        assert not (await editor.command("codeEvolver.fixDiagnostics", uri=failing))["applied"]
        first.fail("garbage")
        second.fail("break")
        failing2 = editor.open("failing2.py", BUGGY)
        assert not (await editor.command("codeEvolver.fixDiagnostics", uri=failing2))["applied"]
        said = await _everything_said(editor)
    assert first.requests[0].headers["Authorization"] == HEADER_SECRET  # it was sent
    assert second.requests[0].headers["Authorization"] == f"Bearer {KEY_SECRET}"
    assert _leaks(said) == []
    assert any("unauthorized" in m for m in said)


def _status(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "code_evolver", "status", "-v", "--config", str(config)],
        capture_output=True,
        text=True,
        env=_secret_env(),
        timeout=60,
        check=False,
    )


def test_status_output_never_shows_header_values(fake_factory, write_config) -> None:
    first, second = fake_factory(), fake_factory()
    second.fail("status", code=403, body={"error": "forbidden"}, paths="*")
    done = _status(_secret_config(write_config, first.url, second.url))
    assert done.returncode == 0, done.stderr
    assert first.url in done.stdout and "forbidden" in done.stdout
    assert first.requests[0].headers["Authorization"] == HEADER_SECRET
    assert _leaks([done.stdout, done.stderr]) == []


async def test_an_endpoint_echoing_the_header_does_not_leak_it(
    tmp_path: Path, fake_factory, write_config
) -> None:
    first, second = fake_factory(), fake_factory()
    # Each answers with the credential it was sent, as some proxies and APIs do.
    first.fail(
        "status", code=401, paths="*", body={"error": f"invalid credentials: {HEADER_SECRET}"}
    )
    second.fail(
        "status",
        code=401,
        paths="*",
        body={"error": {"message": f"Incorrect API key provided: {KEY_SECRET}"}},
    )
    config = _secret_config(write_config, first.url, second.url)
    async with lsp_session(tmp_path / "ws", config, env=_secret_env()) as editor:
        uri = editor.open("buggy.py", BUGGY)
        await editor.command("codeEvolver.fixDiagnostics", uri=uri)
        said = await _everything_said(editor)
    done = _status(config)
    assert any("invalid credentials" in m for m in said)
    assert "Incorrect API key" in done.stdout
    assert _leaks([*said, done.stdout, done.stderr]) == []


# ---------------------------------------------------------------- prompt size


def _huge_module(size: int) -> str:
    line = "# " + "padding that makes this file large " * 2 + "\n"
    return line * (size // len(line)) + BUGGY


@pytest.mark.parametrize("whole_file", [False, True])
async def test_the_prompt_stays_bounded_for_a_ten_megabyte_file(
    tmp_path: Path, fake, config, whole_file: bool
) -> None:
    fake.reply = fence(FIXED_FUNCTION)
    text = _huge_module(10 * 1024 * 1024)
    line = text.count("\n") - 4
    async with lsp_session(
        tmp_path / "ws", config, overrides={"max_prompt_chars": 4000, "fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("huge.py", text)
        await editor.command(
            "codeEvolver.fixDiagnostics",
            uri=uri,
            all=whole_file,
            diagnostics=[{"range": whole_range(line), "message": "boom"}],
        )
    [request] = [r for r in fake.requests if r.path == "/api/generate"]
    assert len(request.body["prompt"]) <= 4000
    assert len(json.dumps(request.body)) <= 4000 + 1000


async def test_a_file_too_large_for_the_prompt_is_narrowed_or_refused(
    tmp_path: Path, fake, config
) -> None:
    fake.reply = fence(FIXED_FUNCTION)
    text = _huge_module(1024 * 1024)
    async with lsp_session(
        tmp_path / "ws", config, overrides={"max_prompt_chars": 4000, "fix": {"max_attempts": 1}}
    ) as editor:
        uri = editor.open("huge.py", text)
        result = await editor.command("codeEvolver.fixDiagnostics", uri=uri, all=True)
    prompts = [r.body["prompt"] for r in fake.requests if r.path == "/api/generate"]
    if prompts:  # narrowed: the model sees the code with the bug and how to answer
        assert "return total / len(value)" in prompts[0]
        assert "Answer with code only" in prompts[0]
    else:  # refused: the user is told why
        assert "too large" in result["message"] and "max_prompt_chars" in result["message"]
