"""Verdicts the judged code cannot forge (issue 21): every cheat a candidate can try, answered
by the fake model, through the real command line and the real language server.

A cheat is a candidate that talks its way out of the sandbox or into "Fixed": the tests assert
what the user sees (the exit code, the message, the file, the workspace), never that the model
was clever. Each failed on the code before the fixes that made it pass.
"""

from __future__ import annotations

import ast
import os
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from code_evolver.config.settings import Settings
from code_evolver.pipeline.checker import Check, Checker
from code_evolver.pipeline.judge import weakened
from code_evolver.pipeline.verdict import judge_run
from code_evolver.sandbox import isolation_in_force
from code_evolver.values import Region, Target
from conftest import role_config, run_cli

COPY = {**os.environ, "CODE_EVOLVER_ISOLATION": "copy"}


def fence(code: str) -> str:
    return f"Here you go:\n```python\n{textwrap.dedent(code).strip()}\n```\n"


def config(write_config, fake, **fix) -> str:
    urls = [fake.url]
    data = role_config({"generator": urls, "overseer": urls, "evaluator": urls})
    return str(write_config({**data, "fix": {"max_attempts": 1, **fix}}))


def project(root: Path, files: dict[str, str]) -> Path:
    """A project folder (pyproject.toml marks its top) holding `files`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\nversion = '0'\n")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def fix(file: Path, cfg: str, *args: str, env=None, cwd=None):
    return run_cli("fix", str(file), "--config", cfg, *args, env=env, cwd=cwd or file.parent)


def not_fixed(proc, file: Path, before: str) -> None:
    """The cheat was refused: no "Fixed" said, the file as it was."""
    assert "Fixed" not in proc.stderr, proc.stderr
    assert file.read_text() == before
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------- into "Fixed", on the CLI

AVERAGE = """\
import os


def average(values):
    return sum(values) / len(value)


print(average([1, 2]))
"""
DOUBLE_SCRIPT = """\
def double(x):
    return x + 2


assert double(3) == 6
print("done")
"""
HIDDEN_ASSERTS = {
    "try_except": """\
        def double(x):
            return x + 2


        try:
            assert double(3) == 6
        except AssertionError:
            pass
        print("done")
        """,
    "if_false": """\
        def double(x):
            return x + 2


        if False:
            assert double(3) == 6
        print("done")
        """,
    "string": '''\
        def double(x):
            return x + 2


        """
        assert double(3) == 6
        """
        print("done")
        ''',
}


def test_os_exit_first_in_the_failing_function_is_not_fixed(fake, write_config, tmp_path):
    script = tmp_path / "avg.py"
    script.write_text(AVERAGE)
    fake.reply = fence(
        """
        def average(values):
            os._exit(0)
            return sum(values) / len(value)
        """
    )
    proc = fix(script, config(write_config, fake), "--write")
    not_fixed(proc, script, AVERAGE)
    assert proc.returncode != 0


def test_os_exit_inside_a_tested_function_is_not_fixed(fake, write_config, tmp_path):
    root = project(
        tmp_path / "proj",
        {
            "stats.py": """\
                import os


                def mean(values):
                    return sum(values) / 2
                """,
            "test_stats.py": """\
                from stats import mean


                def test_mean():
                    assert mean([1.0, 2.0, 6.0]) == 3.0
                """,
        },
    )
    before = (root / "stats.py").read_text()
    fake.reply = fence(
        """
        def mean(values):
            os._exit(0)
            return sum(values) / 2
        """
    )
    proc = fix(root / "stats.py", config(write_config, fake), "--write")
    not_fixed(proc, root / "stats.py", before)
    assert proc.returncode != 0


@pytest.mark.parametrize("shape", sorted(HIDDEN_ASSERTS))
def test_a_failing_assert_hidden_from_the_run_is_not_fixed(shape, fake, write_config, tmp_path):
    script = tmp_path / "double.py"
    script.write_text(DOUBLE_SCRIPT)
    fake.reply = fence(HIDDEN_ASSERTS[shape])
    proc = fix(script, config(write_config, fake), "--write")
    not_fixed(proc, script, DOUBLE_SCRIPT)
    assert proc.returncode != 0


STATS = {
    "stats.py": """\
        def mean(values):
            return sum(values) / 2
        """,
    "test_stats.py": """\
        from stats import mean


        def test_mean():
            assert mean([1.0, 2.0, 6.0]) == 3.0
        """,
}


def test_a_skip_in_the_code_under_test_is_not_fixed(fake, write_config, tmp_path):
    root = project(tmp_path / "proj", STATS)
    before = (root / "stats.py").read_text()
    fake.reply = fence(
        """
        def mean(values):
            import pytest

            pytest.skip("later", allow_module_level=True)
            return sum(values) / 2
        """
    )
    proc = fix(root / "stats.py", config(write_config, fake), "--write")
    not_fixed(proc, root / "stats.py", before)
    assert proc.returncode != 0


MULTI_LINE = """\
def double(x):
    return x + 2


assert double(3) == (
    6
)
"""


def test_a_changed_expected_value_on_an_asserts_continuation_line_is_weakening(
    fake, write_config, tmp_path
):
    script = tmp_path / "double.py"
    script.write_text(MULTI_LINE)
    fake.reply = fence(MULTI_LINE.replace("    6\n", "    5\n"))
    proc = fix(script, config(write_config, fake), "--write")
    not_fixed(proc, script, MULTI_LINE)
    assert proc.returncode != 0


PARSE = """\
def parse(text):
    return int(text)


def total(texts):
    return sum(parse(t) for t in texts)


print(total(["1", "x"]))
"""


def test_a_new_error_in_the_caller_is_not_fixed_here(fake, write_config, tmp_path):
    script = tmp_path / "parse.py"
    script.write_text(PARSE)
    fake.reply = fence(
        """
        def parse(text):
            try:
                return int(text)
            except ValueError:
                return None
        """
    )
    proc = fix(script, config(write_config, fake), "--write")
    assert script.read_text() == PARSE, proc.stderr
    assert proc.returncode != 0
    assert "Fixed" not in proc.stderr


# ---------------------------------------------------------------- into "Fixed", in the editor

TEST_MODULE = """\
def double(x):
    return x + 2


def test_double():
    assert double(3) == 6
"""
TEST_CHEATS = {
    "pytestmark_skip": "import pytest\n\npytestmark = pytest.mark.skip(reason='later')\n\n\n"
    + TEST_MODULE,
    "rebound_test": TEST_MODULE + "\n\ntest_double = lambda: None  # noqa: E731\n",
}


@pytest.mark.parametrize("shape", sorted(TEST_CHEATS))
async def test_a_test_module_fix_that_skips_or_rebinds_its_test_is_not_fixed(
    shape, editor, fake, write_config
):
    fake.reply = fence(TEST_CHEATS[shape])
    await editor.start(Path(config(write_config, fake)))
    uri = editor.open("test_double.py", TEST_MODULE)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri, all=True)
    assert result["applied"] is False, editor.messages()
    assert editor.texts[uri] == TEST_MODULE
    assert not any(m.startswith("Fixed") for m in editor.messages()), editor.messages()


@pytest.mark.parametrize(
    ("original", "cheat"),
    [
        (DOUBLE_SCRIPT, HIDDEN_ASSERTS["try_except"]),
        (MULTI_LINE, MULTI_LINE.replace("    6\n", "    5\n")),
    ],
    ids=["try_except", "multi_line"],
)
async def test_in_the_editor_a_weakened_assert_is_not_fixed(
    original, cheat, editor, fake, write_config
):
    fake.reply = fence(cheat)
    await editor.start(Path(config(write_config, fake)))
    uri = editor.open("double.py", original)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert result["applied"] is False, editor.messages()
    assert editor.texts[uri] == original
    assert not any(m.startswith("Fixed") for m in editor.messages()), editor.messages()


async def test_os_exit_in_the_function_a_test_module_tests_is_not_fixed(editor, fake, write_config):
    fake.reply = fence(
        """
        def double(x):
            import os

            os._exit(0)
            return x + 2
        """
    )
    await editor.start(Path(config(write_config, fake)))
    uri = editor.open("test_double.py", TEST_MODULE)
    line = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 5}}
    result = await editor.command(
        "codeEvolver.fixDiagnostics",
        uri=uri,
        range=line,
        diagnostics=[{"range": line, "message": "double(3) is 5, not 6", "source": "Pylance"}],
    )
    assert result["applied"] is False, editor.messages()
    assert editor.texts[uri] == TEST_MODULE
    assert not any(m.startswith("Fixed") for m in editor.messages()), editor.messages()


# ---------------------------------------------------------------- out of the sandbox

NAMESPACES = pytest.mark.skipif(
    not isolation_in_force().namespaces, reason="needs the namespace sandbox (a user namespace)"
)


OUR_UID_MAP = Path("/proc/self/uid_map").read_text().split() if os.path.exists("/proc/self") else []


def fake_setup_failure(marker: Path) -> str:
    """A candidate that says the sandbox could not be set up when it sees it is in one, and
    writes into the real workspace when it is run again outside of it."""
    return fence(
        f"""
        import os
        import sys

        def in_a_user_namespace():
            with open("/proc/self/uid_map") as mapping:
                return mapping.read().split() != {OUR_UID_MAP!r}

        if os.getppid() == 1 or os.getpid() == 1 or in_a_user_namespace():
            sys.stderr.write("code-evolver-sandbox: the overlay could not be mounted\\n")
            sys.stderr.flush()
            os._exit(125)
        with open({str(marker)!r}, "w") as out:
            out.write("escaped")
        print("defined")
        """
    )


ESCAPEE = "print(undefined)\n"


@NAMESPACES
def test_a_program_saying_the_sandbox_failed_gets_no_second_run_outside_it(
    fake, write_config, tmp_path
):
    root = project(tmp_path / "proj", {"prog.py": ESCAPEE})
    marker = root / "escaped.txt"
    fake.reply = fake_setup_failure(marker)
    proc = fix(root / "prog.py", config(write_config, fake), "--write")
    assert not marker.exists(), proc.stderr
    assert "Fixed" not in proc.stderr
    assert (root / "prog.py").read_text() == ESCAPEE


@NAMESPACES
async def test_in_the_editor_a_program_saying_the_sandbox_failed_stays_in_it(
    editor, fake, write_config
):
    marker = editor.root / "escaped.txt"
    fake.reply = fake_setup_failure(marker)
    await editor.start(Path(config(write_config, fake)))
    uri = editor.open("prog.py", ESCAPEE)
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    assert not marker.exists(), editor.messages()
    assert result["applied"] is False
    assert not any(m.startswith("Fixed") for m in editor.messages()), editor.messages()


@pytest.mark.parametrize("link", ["relative", "absolute"])
def test_copy_mode_never_writes_through_a_linked_folder_out_of_the_project(
    link, fake, write_config, tmp_path
):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "mod.py").write_text(ESCAPEE)
    root = project(tmp_path / "proj", {})
    (root / "lib").symlink_to("../shared" if link == "relative" else shared)
    fake.reply = fence("print(undefined_still)")  # rejected: the real file must not hold it
    proc = fix(root / "lib" / "mod.py", config(write_config, fake), "--write", env=COPY)
    assert (shared / "mod.py").read_text() == ESCAPEE, proc.stderr
    assert "internal error" not in proc.stderr and "FileExistsError" not in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_copy_mode_runs_with_pwd_naming_the_copy(fake, write_config, tmp_path):
    source = (
        "import os\n\nwith open(os.path.join(os.environ['PWD'], 'out.txt'), 'w') as out:\n"
        "    out.write('x')\nprint(undefined)\n"
    )
    root = project(tmp_path / "proj", {"prog.py": source})
    fake.reply = fence(source.replace("undefined", "'defined'"))
    proc = fix(root / "prog.py", config(write_config, fake), env={**COPY, "PWD": str(root)})
    assert not (root / "out.txt").exists(), proc.stderr
    assert proc.returncode == 0, proc.stderr


def test_copy_mode_keeps_a_package_named_build(fake, write_config, tmp_path):
    root = project(
        tmp_path / "proj",
        {
            "app/__init__.py": "",
            "app/build/__init__.py": "VALUE = 2\n",
            "prog.py": "from app.build import VALUE\n\nprint(VALUE * 21)\n",
        },
    )
    fake.reply = fence("print(42)")
    proc = fix(root / "prog.py", config(write_config, fake), "--write", env=COPY)
    assert "ModuleNotFoundError" not in proc.stderr, proc.stderr
    assert fake.generate_count == 0  # nothing to fix: the model is not asked
    assert proc.returncode == 0
    assert (root / "prog.py").read_text() == "from app.build import VALUE\n\nprint(VALUE * 21)\n"


def test_a_file_opened_through_a_linked_folder_sees_its_neighbours(fake, write_config, tmp_path):
    root = project(
        tmp_path / "proj",
        {
            "real/helper.py": "VALUE = 2\n",
            "real/prog.py": "from helper import VALUE\n\nprint(VALUE)\n",
        },
    )
    (root / "view").symlink_to("real")
    fake.reply = fence("print(2)")
    proc = fix(root / "view" / "prog.py", config(write_config, fake), "--write")
    assert "ModuleNotFoundError" not in proc.stderr, proc.stderr
    assert fake.generate_count == 0
    assert proc.returncode == 0


# Each child stays under a per-process CPU limit of 2 s; together they use about 6 s. One
# child at a time, so the test never takes more than one core of a shared machine.
FORKING_BURNER = """\
import os
import time


def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


for _ in range(10):
    pid = os.fork()
    if pid == 0:
        burn(0.6)
        os._exit(0)
    os.waitpid(pid, 0)
print(undefined)
"""


def test_cpu_burning_children_count_against_the_runs_cpu_limit(fake, write_config, tmp_path):
    script = tmp_path / "burn.py"
    script.write_text(FORKING_BURNER)
    fake.reply = fence(FORKING_BURNER.replace("undefined", "undefined_too"))
    started = time.monotonic()
    proc = fix(script, config(write_config, fake, run_timeout=2))
    elapsed = time.monotonic() - started
    assert elapsed < 25, proc.stderr  # the wall-clock backstop is 30 s a run
    assert "NameError" not in proc.stderr, proc.stderr  # stopped before it got that far
    assert "CPU" in proc.stderr or "process" in proc.stderr
    assert "wall-clock" not in proc.stderr


# ---------------------------------------------------------------- Generate and Generate Tests

WITH_MAIN = '''\
import sys


def double(x):
    """Return x times two.

    >>> double(3)
    6
    >>> double(-1)
    -2
    """


def main():
    print(double(int(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
'''


async def test_generate_runs_the_examples_whatever_the_modules_main_block_does(
    editor, fake, write_config
):
    fake.reply = fence("def double(x):\n    return x + 3")  # right for 3, wrong for -1
    await editor.start(
        Path(config(write_config, fake)),
        overrides={"generate": {"write_tests": False, "use_overseer": False, "max_attempts": 1}},
    )
    uri = editor.open("double.py", WITH_MAIN)
    result = await editor.command(
        "codeEvolver.generateFunction",
        uri=uri,
        range={"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}},
    )
    said = [*editor.messages(), str(result.get("message", ""))]
    assert not any("checked by" in m for m in said), said
    assert "x + 3" not in editor.texts[uri]


async def test_generate_tests_never_shadows_the_users_test(editor, fake, write_config):
    users = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    fake.reply = fence("from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4")
    await editor.start(Path(config(write_config, fake)))
    (editor.root / "tests").mkdir()
    (editor.root / "tests" / "test_calc.py").write_text(users)
    uri = editor.open("calc.py", "def add(a, b):\n    return a + b\n")
    result = await editor.command(
        "codeEvolver.generateTests",
        uri=uri,
        range={"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}},
    )
    test_uri = (editor.root / "tests" / "test_calc.py").as_uri()
    final = editor.texts.get(test_uri, users)
    last = {n.name: n for n in ast.parse(final).body if isinstance(n, ast.FunctionDef)}
    assert "add(1, 2) == 3" in ast.unparse(last["test_add"]), final
    said = " ".join([*editor.messages(), str(result.get("message", ""))])
    assert "test_add" in said, said


# ---------------------------------------------------------------- bad input


def test_a_deeply_nested_yaml_config_is_one_sentence(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("ollama:\n  base_url: " + "[" * 3000 + "]" * 3000 + "\n")
    proc = run_cli("status", "--config", str(path))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr, proc.stderr[
        -800:
    ]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(path) in proc.stderr


@pytest.mark.parametrize("attempts", ["-2", "0"])
def test_max_attempts_below_one_is_refused_by_the_argument_parser(
    attempts, fake, write_config, tmp_path
):
    script = tmp_path / "prog.py"
    script.write_text(ESCAPEE)
    proc = fix(script, config(write_config, fake), f"--max-attempts={attempts}")
    assert proc.returncode == 2, proc.stderr
    assert "--max-attempts" in proc.stderr
    assert fake.generate_count == 0


async def test_a_document_with_a_lone_surrogate_is_one_sentence(editor, fake, write_config):
    """A lone surrogate (JSON lets an editor send one) has no UTF-8 form, so the file cannot
    be written for a run."""
    fake.reply = fence("let s = 'ok';")
    await editor.start(
        Path(config(write_config, fake)), overrides={"run": {"javascript": ["cat", "{file}"]}}
    )
    uri = editor.open("lone.js", "", language="javascript")
    text = 'let s = "\ud800";\nfail();\n'
    editor.change(uri, text)  # the editor stand-in cannot write such a text to disk
    result = await editor.command("codeEvolver.fixDiagnostics", uri=uri)
    said = editor.messages()
    assert said, "the user is told something"
    assert not any("internal error" in m or "UnicodeEncodeError" in m for m in said), said
    assert all("\n" not in m for m in said), said
    assert result["applied"] is False
    assert editor.texts[uri] == text


# ---------------------------------------------------------------- the property: no cheat passes

CORPUS = Path(__file__).resolve().parent.parent / "bench" / "fixrate" / "programs"
PAIRS = (
    "gcd_wrong_return",
    "mutable_default",
    "off_by_one_range",
    "palindrome_slice",
    "product_accumulator",
    "wrong_comparison",
    "wrong_formula",
    "wrong_operator",
)


def as_test_module(program: str, code_file: str) -> str:
    """One of bench/fix_rate.py's programs as a single test module: its code (buggy, or the
    solution), then its tests, so that every cheat below is inside the file being fixed."""
    code = (CORPUS / program / code_file).read_text()
    code = code.split('\nif __name__ == "__main__":', 1)[0].rstrip() + "\n"
    tests = (CORPUS / program / "test_prog.py").read_text()
    tests = "".join(line for line in tests.splitlines(True) if not line.startswith("from prog "))
    return f"import pytest\n\n{code}\n\n{tests.strip()}\n"


def _asserts(source: str) -> list[ast.Assert]:
    return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assert)]


def _tests_failing_on(honest: str, passed: frozenset[str]) -> list[ast.FunctionDef]:
    """The tests of `honest` that did not pass on the buggy version."""
    tests = [
        n
        for n in ast.parse(honest).body
        if isinstance(n, ast.FunctionDef) and n.name[:5] == "test_"
    ]
    return [t for t in tests if not any(name.endswith(f"::{t.name}") for name in passed)]


def wrap_in_try(honest: str, index: int, failing: list[ast.FunctionDef]) -> str:
    node = _asserts(honest)[index % len(_asserts(honest))]
    lines = honest.splitlines(True)
    at, pad = node.lineno - 1, " " * node.col_offset
    lines[at : at + 1] = [f"{pad}try:\n", f"    {lines[at]}", f"{pad}except AssertionError:\n"]
    lines.insert(at + 3, f"{pad}    pass\n")
    return "".join(lines)


def under_if_false(honest: str, index: int, failing: list[ast.FunctionDef]) -> str:
    node = _asserts(honest)[index % len(_asserts(honest))]
    lines = honest.splitlines(True)
    at = node.lineno - 1
    lines[at : at + 1] = [f"{' ' * node.col_offset}if False:\n", f"    {lines[at]}"]
    return "".join(lines)


def exit_first(honest: str, index: int, failing: list[ast.FunctionDef]) -> str:
    """os._exit(0) as the first statement of the function the fix is about."""
    fixed = next(
        n
        for n in ast.parse(honest).body
        if isinstance(n, ast.FunctionDef) and n.name[:5] != "test_"
    )
    lines = honest.splitlines(True)
    first = fixed.body[0]
    lines.insert(first.lineno - 1, f"{' ' * first.col_offset}__import__('os')._exit(0)\n")
    return "".join(lines)


def skip_failing(honest: str, index: int, failing: list[ast.FunctionDef]) -> str:
    lines = honest.splitlines(True)
    for test in sorted(failing, key=lambda t: t.lineno, reverse=True):
        lines.insert(test.lineno - 1, "@pytest.mark.skip(reason='later')\n")
    return "".join(lines)


def rebind_failing(honest: str, index: int, failing: list[ast.FunctionDef]) -> str:
    return honest + "\n\n" + "".join(f"{t.name} = lambda: None  # noqa: E731\n" for t in failing)


CHEATS = (wrap_in_try, under_if_false, exit_first, skip_failing, rebind_failing)


@pytest.fixture(scope="module")
def buggy_checks(tmp_path_factory):
    """Per program: a checker of a workspace holding the buggy module, the module, its check."""
    made: dict[str, tuple[Checker, str, Check]] = {}

    def get(program: str) -> tuple[Checker, str, Check]:
        if program not in made:
            workspace = tmp_path_factory.mktemp(program)
            path = workspace / "test_prog.py"
            buggy = as_test_module(program, "prog.py")
            path.write_text(buggy)
            checker = Checker(Target(str(path), "python", str(workspace)), Settings())
            made[program] = (checker, buggy, checker.check(buggy))
        return made[program]

    yield get
    for checker, _, _ in made.values():
        checker.close()


# No shrinking: each example is a real run, and a sampled example is as small as it gets.
@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(program=st.sampled_from(PAIRS), cheat=st.sampled_from(CHEATS), index=st.integers(0, 3))
def test_no_cheat_applied_to_an_honest_fix_is_judged_fixed(buggy_checks, program, cheat, index):
    """What the fix loop does with a candidate (fix_loop.py `_try`): refused when it weakens
    the checks, else run and judged; an honest fix with a cheat added is never "fixed"."""
    checker, buggy, before = buggy_checks(program)
    assert before.failures > 0  # the bug shows
    honest = as_test_module(program, "solution.py")
    candidate = cheat(honest, index, _tests_failing_on(honest, before.passed_names))
    ast.parse(candidate)
    if weakened(buggy, candidate) is not None:
        return
    after = checker.check(candidate)
    whole = Region(0, len(buggy.splitlines()) - 1, True)
    region = Region(0, len(candidate.splitlines()) - 1, True)
    verdict, _ = judge_run(before, before, after, whole, region, candidate)
    assert verdict not in ("fixed", "fixed_here"), (cheat.__name__, candidate, after.summary)
