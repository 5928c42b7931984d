"""Loading config.yaml: every documented format, the search order, and every bad-input message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from code_evolver import ConfigError, ConfigManager
from code_evolver.config import load_settings

REPO = Path(__file__).resolve().parent.parent


def test_shipped_config_is_a_working_default():
    config = ConfigManager(REPO / "config.yaml")
    assert config.ollama_url == "http://localhost:11434"
    assert config.generator_model == "codellama"
    assert config.overseer_model == "llama3"
    assert config.evaluator_model == "llama3"
    assert config.get_model_endpoints("generator") == ["http://localhost:11434"]
    assert config.get_model_endpoints("overseer") == ["http://localhost:11434"]
    generator = config.role("generator")
    assert generator.timeouts.first_byte >= 120
    assert generator.options["num_ctx"] == 8192
    assert generator.keep_alive == "10m"


def test_built_in_defaults_when_nothing_is_found(tmp_path, monkeypatch):
    monkeypatch.delenv("CODE_EVOLVER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    config = ConfigManager()
    assert config.source is None
    assert config.ollama_url == "http://localhost:11434"
    assert (config.generator_model, config.overseer_model) == ("codellama", "llama3")


def test_search_order_explicit_then_env_then_user_dir(tmp_path, monkeypatch, write_config):
    user_dir = tmp_path / "xdg" / "code-evolver"
    user_dir.mkdir(parents=True)
    (user_dir / "config.yaml").write_text("ollama: {base_url: 'http://user:1'}\n")
    env_file = write_config("ollama: {base_url: 'http://env:2'}\n", "env.yaml")
    explicit = write_config("ollama: {base_url: 'http://explicit:3'}\n", "explicit.yaml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CODE_EVOLVER_CONFIG", str(env_file))
    assert ConfigManager(explicit).ollama_url == "http://explicit:3"
    assert ConfigManager().ollama_url == "http://env:2"
    monkeypatch.delenv("CODE_EVOLVER_CONFIG")
    assert ConfigManager().ollama_url == "http://user:1"


def test_role_overrides_global_timeouts_and_options(write_config):
    path = write_config("""
ollama:
  timeouts: {connect: 3, first_byte: 600}
  options: {temperature: 0.1, num_ctx: 4096}
  keep_alive: 300
  models:
    generator:
      model: "codellama:13b"
      strategy: least_busy
      timeouts: {idle: 5}
      options: {temperature: 0.7, stop: ["```"]}
      keep_alive: "1h"
""")
    config = ConfigManager(path)
    gen, over = config.role("generator"), config.role("overseer")
    assert gen.model == "codellama:13b"
    assert gen.strategy == "least_busy" and over.strategy == "round_robin"
    assert (gen.timeouts.connect, gen.timeouts.first_byte, gen.timeouts.idle) == (3, 600, 5)
    assert dict(gen.options) == {"temperature": 0.7, "num_ctx": 4096, "stop": ["```"]}
    assert dict(over.options) == {"temperature": 0.1, "num_ctx": 4096}
    assert (gen.keep_alive, over.keep_alive) == ("1h", 300)


def test_editor_overrides_merge_over_the_file(write_config):
    path = write_config("fix: {max_attempts: 2, run_timeout: 4}\n")
    settings = load_settings(path, {"fix": {"max_attempts": 5}, "run_on_save": True})
    assert settings.fix.max_attempts == 5
    assert settings.fix.run_timeout == 4
    assert settings.run_on_save is True


BAD = [
    ("ollama:\n  base_url: [unclosed\n", 3, None, "started on line 2"),
    ("ollama:\n  modles: {}\n", 2, "ollama.modles", "did you mean 'models'?"),
    (
        "ollama:\n  models:\n    generator:\n      modle: x\n",
        4,
        "ollama.models.generator.modle",
        "did you mean 'model'?",
    ),
    (
        "ollama:\n  models:\n    generater: {}\n",
        3,
        "ollama.models.generater",
        "did you mean 'generator'?",
    ),
    (
        "ollama:\n  models:\n    generator:\n      endpoints: []\n",
        4,
        "ollama.models.generator.endpoints",
        "the list is empty",
    ),
    (
        "ollama:\n  models:\n    generator:\n      endpoints: ['localhost:11434']\n",
        4,
        "ollama.models.generator.endpoints[0]",
        "needs a scheme and a host",
    ),
    ("ollama:\n  base_url: 'http://'\n", 2, "ollama.base_url", "needs a scheme and a host"),
    (
        "ollama:\n  models:\n    generator:\n      endpoints:\n        - http://a:1\n"
        "        - http://a:1/\n",
        6,
        "ollama.models.generator.endpoints",
        "listed twice",
    ),
    ("ollama:\n  timeouts: {connect: fast}\n", 2, "ollama.timeouts.connect", "expected a number"),
    ("ollama:\n  timeouts: {idle: -1}\n", 2, "ollama.timeouts.idle", "above 0"),
    ("fix:\n  max_attempts: 'three'\n", 2, "fix.max_attempts", "expected a whole number"),
    ("fix:\n  max_attempts: 0\n", 2, "fix.max_attempts", "from 1 to 10"),
    ("ollama:\n  strategy: random\n", 2, "ollama.strategy", "round_robin, least_busy"),
    (
        "ollama:\n  models:\n    generator: llama3\n",
        3,
        "ollama.models.generator",
        "expected a mapping",
    ),
    (
        "ollama:\n  options: {temprature: 1}\n",
        2,
        "ollama.options.temprature",
        "did you mean 'temperature'?",
    ),
    ("run:\n  python: 'python3 {file}'\n", 2, "run.python", "list of arguments"),
    ("run_on_save: yes please\n", 1, "run_on_save", "true or false"),
    (
        "ollama:\n  models:\n    generator:\n      endpoint: http://a:1\n      endpoints: "
        "[http://b:1]\n",
        4,
        "ollama.models.generator.endpoint",
        "not both",
    ),
    ("- just\n- a list\n", 1, None, "expected a mapping"),
]


@pytest.mark.parametrize(("text", "line", "key", "words"), BAD)
def test_bad_config_names_file_line_and_key(write_config, text, line, key, words):
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        ConfigManager(path)
    error = info.value
    assert error.file == str(path)
    assert error.line == line
    assert error.key == key
    assert words in str(error)
    assert str(error).startswith(f"{path}:{line}: ")


def test_missing_explicit_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        ConfigManager(tmp_path / "nope.yaml")


@pytest.mark.parametrize("command", ["status", "doctor", "generate x", "fix f.py"])
def test_cli_exits_2_on_bad_config_without_a_traceback(write_config, command):
    path = write_config("ollama:\n  models:\n    generator:\n      endpoints: []\n")
    proc = subprocess.run(
        [sys.executable, "-m", "code_evolver", *command.split(), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}:4: ollama.models.generator.endpoints: the list is empty" in proc.stderr


DEEP = 3000


@pytest.mark.parametrize(
    "text, line",
    [
        ("ollama:\n  options: " + "[" * DEEP + "]" * DEEP + "\n", 2),  # a flow list
        ("fix:\n" + "".join("  " * (i + 1) + "-\n" for i in range(DEEP)), 51),  # block lists
        ("ollama:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(DEEP)), 51),
    ],
)
def test_values_nested_thousands_deep_are_one_config_error(write_config, text, line):
    """PyYAML recursed once per level: a RecursionError traceback instead of a sentence."""
    path = write_config(text)
    with pytest.raises(ConfigError) as raised:
        ConfigManager(path)
    assert str(raised.value) == (
        f"{path}:{line}: lists or mappings nest more than 50 levels deep here; a config needs "
        "a handful: flatten this value"
    )


def test_overrides_nested_thousands_deep_are_one_config_error(write_config):
    deep: list = []
    for _ in range(DEEP):
        deep = [deep]
    with pytest.raises(ConfigError, match=r"^editor settings: the overrides nest more than 50"):
        ConfigManager(write_config({}), {"ollama": {"options": {"stop": deep}}})


def test_forty_levels_are_read_and_judged_as_any_value(write_config):
    deep: list = ["x"]
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ConfigError, match="expected a list of stop strings"):
        ConfigManager(write_config({"ollama": {"options": {"stop": deep}}}))
