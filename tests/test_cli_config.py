"""Which config a one-shot command reads: --config, the variable, ./config.yaml, the user's."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from conftest import role_config, run_cli

run = run_cli


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CODE_EVOLVER_CONFIG"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # no user config unless a test writes one
    env.update(extra)
    return env


def _write(path: Path, url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(role_config({"generator": [url]})))
    return path


def test_config_yaml_in_the_current_folder_is_used_before_the_users(fake_factory, tmp_path):
    here, user = fake_factory(name="here"), fake_factory(name="user")
    project = tmp_path / "project"
    _write(project / "config.yaml", here.url)
    _write(tmp_path / "xdg" / "code-evolver" / "config.yaml", user.url)
    proc = run("status", cwd=project, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert here.url in proc.stdout and user.url not in proc.stdout


def test_another_tools_config_yaml_is_not_read(fake_factory, tmp_path):
    user = fake_factory(name="user")
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text("database:\n  host: db.example\n")
    _write(tmp_path / "xdg" / "code-evolver" / "config.yaml", user.url)
    proc = run("status", cwd=project, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert user.url in proc.stdout


def test_the_environment_variable_wins_over_the_current_folder(fake_factory, tmp_path):
    here, chosen = fake_factory(name="here"), fake_factory(name="chosen")
    project = tmp_path / "project"
    _write(project / "config.yaml", here.url)
    named = _write(tmp_path / "elsewhere.yaml", chosen.url)
    proc = run("status", cwd=project, env=_env(tmp_path, CODE_EVOLVER_CONFIG=str(named)))
    assert proc.returncode == 0, proc.stderr
    assert chosen.url in proc.stdout and here.url not in proc.stdout


def test_status_leaves_out_the_legacy_escalation_role_unless_the_file_names_it(
    fake_factory, tmp_path
):
    fake = fake_factory()
    project = tmp_path / "project"
    _write(project / "config.yaml", fake.url)
    proc = run("status", cwd=project, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "escalation" not in proc.stdout
    data = role_config({"generator": [fake.url], "escalation": [fake.url]})
    (project / "config.yaml").write_text(yaml.safe_dump(data))
    proc = run("status", cwd=project, env=_env(tmp_path))
    assert "escalation: model" in proc.stdout and "kept for old configs" in proc.stdout


def test_a_config_yaml_nested_thousands_deep_is_one_sentence(tmp_path):
    """Nested 3,000 deep, ./config.yaml and --config both printed a RecursionError traceback."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text("ollama:\n  options: " + "[" * 3000 + "]" * 3000 + "\n")
    (project / "prog.py").write_text("print(1)\n")
    here = run("fix", "prog.py", cwd=project, env=_env(tmp_path))
    given = run("status", "--config", str(project / "config.yaml"), env=_env(tmp_path))
    for proc in (here, given):
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [
            f"code-evolver: {project / 'config.yaml'}:2: lists or mappings nest more than 50 "
            "levels deep here; a config needs a handful: flatten this value"
        ]
