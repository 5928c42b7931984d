"""The command line against real Ollama-protocol servers: doctor, status, generate and fix."""

from __future__ import annotations

import pytest

from conftest import role_config, run_cli

run = run_cli


def all_roles(*urls: str) -> dict:
    return role_config({"generator": list(urls), "overseer": list(urls), "evaluator": list(urls)})


def test_doctor_reports_two_healthy_endpoints(fake_factory, write_config):
    a, b = fake_factory(), fake_factory()
    proc = run("doctor", "--config", str(write_config(all_roles(a.url, b.url))))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok    {a.url}" in proc.stdout and f"ok    {b.url}" in proc.stdout
    assert "All roles are ready." in proc.stdout
    # Probes use /api/tags only: doctor never runs a completion.
    assert {r.path for r in a.requests + b.requests} == {"/api/tags"}


def test_doctor_advice_for_an_openai_server_names_no_ollama_and_the_config_file(
    fake_factory, write_config
):
    serving = fake_factory(models=("qwen2.5-coder", "deepseek-coder"))
    dead = fake_factory()
    dead.fail("refuse")
    config = role_config(
        {"generator": [serving.url], "overseer": [dead.url], "evaluator": [serving.url]},
        api="openai",
    )
    path = write_config(config, name="team.yaml")
    proc = run("doctor", "--config", str(path))
    assert proc.returncode == 1
    advice = [line for line in proc.stdout.splitlines() if "FAIL" in line or "fix:" in line]
    assert advice and not any("ollama serve" in line or "ollama pull" in line for line in advice), (
        proc.stdout
    )
    assert "it serves no model 'codellama' (its /v1/models lists: qwen2.5-coder, " in proc.stdout
    assert f"set ollama.models.generator.model in {path} to one it lists" in proc.stdout
    assert "connection refused (no server is listening on that port)" in proc.stdout
    start = "start the model server there (llama.cpp, vLLM, LM Studio, ...)"
    assert f"{start}, or check the URL in {path} (ollama.models.overseer)" in proc.stdout


def test_doctor_names_each_problem_and_its_fix(fake_factory, write_config):
    no_codellama = fake_factory(models=("llama3:latest",))
    dead = fake_factory()
    dead.fail("refuse")
    config = role_config(
        {"generator": [no_codellama.url], "overseer": [dead.url], "evaluator": [no_codellama.url]}
    )
    proc = run("doctor", "--config", str(write_config(config)))
    assert proc.returncode == 1
    assert "generator (codellama): NOT READY" in proc.stdout
    assert "model 'codellama' is not pulled (it has: llama3:latest)" in proc.stdout
    assert "run `ollama pull codellama` on that machine" in proc.stdout
    assert "overseer (llama3): NOT READY" in proc.stdout
    assert "connection refused" in proc.stdout and "ollama serve" in proc.stdout
    assert "evaluator (llama3): ready" in proc.stdout


def test_status_shows_roles_endpoints_and_health(fake_factory, write_config):
    a, b = fake_factory(), fake_factory()
    b.fail("refuse")
    proc = run("status", "--config", str(write_config(all_roles(a.url, b.url))))
    assert proc.returncode == 0
    assert "generator: model codellama, round_robin" in proc.stdout
    lines = proc.stdout.splitlines()
    assert any(a.url in line and " ok " in line for line in lines)
    assert any(b.url in line and "unreachable" in line for line in lines)


def test_generate_prints_clean_code_and_the_endpoint(fake, write_config, tmp_path):
    fake.reply = "Sure! Here you go:\n```python\nresult = 1 + 1\nprint(result)\n```\nEnjoy."
    config = {**all_roles(fake.url), "generate": {"use_overseer": True}}
    proc = run("generate", "add 1 plus 1", "--config", str(write_config(config)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "result = 1 + 1\nprint(result)\n"
    assert f"at {fake.url}" in proc.stderr
    # The whole pipeline, a line per step: the overseer's approach, the generator, the run.
    assert "... Consulting overseer llama3" in proc.stderr
    assert "... Attempt 1/3: writing with codellama" in proc.stderr
    assert "not verified" in proc.stderr  # nothing the user wrote checks a bare request
    prompts = [r.body["prompt"] for r in fake.requests if r.path == "/api/generate"]
    assert any("add 1 plus 1" in p for p in prompts)


def test_one_shot_errors_print_once_and_cooling_down_only_with_v(fake, write_config):
    fake.fail("refuse")
    config = str(write_config(all_roles(fake.url)))
    proc = run("generate", "add 1 plus 1", "--config", config)
    assert proc.returncode == 1
    assert proc.stderr.count("endpoint(s) for role 'generator'") == 1, proc.stderr
    assert "cooling down" not in proc.stderr
    verbose = run("generate", "add 1 plus 1", "--config", config, "-v")
    assert "cooling down" in verbose.stderr


def test_fix_prints_a_diff_and_writes_with_write(fake, write_config, tmp_path):
    fake.reply = "```python\ndef average(values):\n    return sum(values) / len(values)\n```"
    script = tmp_path / "avg.py"
    source = (
        "def average(values):\n    return sum(values) / len(value)\n\n\nprint(average([1, 2]))\n"
    )
    script.write_text(source)
    config = str(write_config(all_roles(fake.url)))
    proc = run("fix", str(script), "--config", config)
    assert proc.returncode == 0, proc.stderr
    assert "-    return sum(values) / len(value)" in proc.stdout
    assert "+    return sum(values) / len(values)" in proc.stdout
    assert script.read_text() == source  # no --write: nothing changes
    assert "NameError" in proc.stderr or "Attempt 1/3" in proc.stderr
    proc = run("fix", str(script), "--config", config, "--write")
    assert proc.returncode == 0
    assert "len(values)" in script.read_text()


def test_fix_write_keeps_crlf_line_ends_on_every_line(fake, write_config, tmp_path):
    fake.reply = "```python\ndef average(values):\n    return sum(values) / len(values)\n```"
    script = tmp_path / "avg.py"
    lines = ["def average(values):", "    return sum(values) / len(value)", "", ""]
    script.write_bytes("\r\n".join([*lines, "print(average([1, 2]))", ""]).encode())
    proc = run("fix", str(script), "--config", str(write_config(all_roles(fake.url))), "--write")
    assert proc.returncode == 0, proc.stderr
    written = script.read_bytes()
    assert b"len(values)\r\n" in written
    assert written.count(b"\r\n") == 5 and b"\n" not in written.replace(b"\r\n", b"")


def test_fix_reads_runs_and_writes_a_file_in_its_declared_encoding(fake, write_config, tmp_path):
    """A latin-1 file is run as Python reads it (the run sees "René", four characters) and
    written back in latin-1."""
    script = tmp_path / "greet.py"
    source = '# -*- coding: latin-1 -*-\nname = "René"\nassert len(name) == 4, name\nprint(nam)\n'
    fake.reply = f"```python\n{source.replace('print(nam)', 'print(name)')}```"
    script.write_bytes(source.encode("latin-1"))
    proc = run("fix", str(script), "--config", str(write_config(all_roles(fake.url))), "--write")
    assert proc.returncode == 0, proc.stderr
    assert script.read_bytes() == source.replace("print(nam)", "print(name)").encode("latin-1")


def test_a_file_that_is_not_in_its_encoding_is_one_clear_error(fake, write_config, tmp_path):
    script = tmp_path / "bad.py"
    script.write_bytes(b'name = "Ren\xe9"\n')  # latin-1 bytes, no declaration: not UTF-8
    proc = run("fix", str(script), "--config", str(write_config(all_roles(fake.url))))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"code-evolver: cannot read {script}: it is not utf-8 text (byte 11); save it as "
        "UTF-8, or declare its encoding in its first line (# -*- coding: latin-1 -*-)"
    )


def test_fix_with_no_endpoint_is_one_clear_error(fake, write_config, tmp_path):
    fake.fail("refuse")
    script = tmp_path / "bad.py"
    script.write_text("print(undefined)\n")
    proc = run("fix", str(script), "--config", str(write_config(all_roles(fake.url))))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert f"{fake.url}: connection refused" in proc.stderr
    assert script.read_text() == "print(undefined)\n"


def test_config_and_verbose_work_before_the_command_too(fake, write_config):
    """`code-evolver --config X doctor` as well as `code-evolver doctor --config X` (issue 13)."""
    config = str(write_config(all_roles(fake.url)))
    before = run("--config", config, "doctor")
    after = run("doctor", "--config", config)
    for proc in (before, after):
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"config: {config}" in proc.stdout
        assert f"ok    {fake.url}" in proc.stdout
    fake.reply = "```python\nprint(2)\n```"
    quiet = run("--config", config, "generate", "print two")
    loud = run("-v", "--config", config, "generate", "print two")
    loud_after = run("generate", "print two", "-v", "--config", config)
    assert quiet.returncode == loud.returncode == loud_after.returncode == 0, loud.stderr
    assert "INFO" not in quiet.stderr
    assert "INFO" in loud.stderr and "INFO" in loud_after.stderr


def test_a_missing_config_before_the_command_is_the_config_error(tmp_path):
    missing = str(tmp_path / "nowhere.yaml")
    for args in (("--config", missing, "status"), ("status", "--config", missing)):
        proc = run(*args)
        assert proc.returncode == 2, proc.stderr
        assert "invalid choice" not in proc.stderr
        assert missing in proc.stderr


def test_fix_in_a_project_without_git_sees_its_tests_and_conftest(fake, write_config, tmp_path):
    """pkg/stats.py runs cleanly; only tests/test_stats.py, with a fixture from the root
    conftest.py, shows the bug. The project's top is the folder with pyproject.toml."""
    project = tmp_path / "proj"
    (project / "pkg").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'stats'\nversion = '0'\n")
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "stats.py").write_text("def mean(values):\n    return sum(values) / 2\n")
    (project / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef sample():\n    return [1.0, 2.0, 6.0]\n"
    )
    (project / "tests" / "test_stats.py").write_text(
        "from pkg.stats import mean\n\ndef test_mean(sample):\n    assert mean(sample) == 3.0\n"
    )
    fake.reply = "```python\ndef mean(values):\n    return sum(values) / len(values)\n```"
    proc = run(
        "fix", "pkg/stats.py", "--config", str(write_config(all_roles(fake.url))), cwd=project
    )
    assert proc.returncode == 0, proc.stderr
    assert "+    return sum(values) / len(values)" in proc.stdout
    # The file alone runs cleanly: the model was asked because the project's test failed.
    assert "Attempt 1/3: asking" in proc.stderr and "Fixed on attempt 1/3" in proc.stderr


@pytest.mark.parametrize("value", ["-2", "0", "11", "three"])
def test_max_attempts_out_of_range_is_refused_by_the_parser(fake, write_config, tmp_path, value):
    """-2 said "No fix after -2 attempt(s)"; 0 fell back to the config without a word."""
    script = tmp_path / "avg.py"
    script.write_text("print(undefined)\n")
    config = str(write_config(all_roles(fake.url)))
    proc = run("fix", str(script), "--config", config, "--max-attempts", value)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"code-evolver fix: error: argument --max-attempts: {value!r} is not a number of "
        "attempts; give a whole number from 1 to 10, e.g. 3"
    )
    assert fake.generate_count == 0


def test_a_tcp_port_past_65535_is_refused_by_the_parser():
    proc = run("lsp", "--tcp", "127.0.0.1:99999", timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "code-evolver lsp: error: argument --tcp: '127.0.0.1:99999' is not HOST:PORT; give e.g. "
        "127.0.0.1:2087, a port from 0 to 65535"
    )


def test_a_file_decoding_to_a_lone_surrogate_is_one_sentence(fake, write_config, tmp_path):
    """A declared raw_unicode_escape turns the six characters \\ud800 into a lone surrogate,
    which Python cannot compile: the model was asked to fix an 'utf-8 codec' SyntaxError."""
    script = tmp_path / "label.py"
    data = b'# -*- coding: raw_unicode_escape -*-\nlabel = "\\ud800"\nprint(undefined)\n'
    script.write_bytes(data)
    proc = run("fix", str(script), "--config", str(write_config(all_roles(fake.url))), "--write")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"code-evolver: {script} holds a lone surrogate (U+D800) on line 2, column 10, which no "
        "UTF-8 text can hold, so it cannot be run or sent to a model: delete it or type the "
        "character meant there, then try again."
    ]
    assert script.read_bytes() == data
    assert fake.generate_count == 0
