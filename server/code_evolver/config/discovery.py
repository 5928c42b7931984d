"""Which config file is used, and reading it with the editor's overrides on top."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .build import build_settings
from .config_error import ConfigError
from .settings import ENV_CONFIG, Settings
from .yaml_tree import Node, compose, merge, wrap


def user_config_path() -> Path:
    """Where a per-user config.yaml lives on this platform."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "code-evolver" / "config.yaml"


# The top-level keys of our config file: a config.yaml with none of them is another tool's.
_OUR_KEYS = frozenset(
    {
        "ollama",
        "fix",
        "generate",
        "run",
        "test_command",
        "run_on_save",
        "strip_secrets",
        "max_prompt_chars",
        "max_output_chars",
    }
)


def config_here(directory: str | os.PathLike[str]) -> Path | None:
    """`config.yaml` in `directory` when it is a Code Evolver config (one-shot commands use it
    before the user's own, as the shipped file is meant to be used: next to it)."""
    path = Path(directory) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return path  # ours or not, reading it says what is wrong with it, naming the file
    return path if isinstance(data, dict) and _OUR_KEYS & set(data) else None


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: explicit path, $CODE_EVOLVER_CONFIG, the user's config, or none."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file not found: {path}; check the --config flag or the "
                "codeEvolver.configPath setting",
                file=str(path),
            )
        return path
    from_env = os.environ.get(ENV_CONFIG)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file not found: {path}; fix or unset the {ENV_CONFIG} "
                "environment variable",
                file=str(path),
            )
        return path
    user = user_config_path()
    return user if user.is_file() else None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    discover: bool = True,
) -> Settings:
    """Read, merge and validate the config; raises ConfigError with file, line and key."""
    found = find_config(path) if discover or path else None
    if found is None:
        file, root = "<defaults>", Node({}, None)
    else:
        file = str(found)
        try:
            text = found.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the file: {exc}", file=file) from None
        root = compose(text, file)
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ConfigError(
                "editor overrides must be a mapping of config keys", file="editor settings"
            )
        root = merge(root, wrap(overrides))
    return build_settings(root, file)
