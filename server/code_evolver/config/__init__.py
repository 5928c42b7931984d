"""Typed settings for Code Evolver, loaded from config.yaml and validated key by key.

yaml_tree reads the file keeping line numbers, validation checks one mapping at a time,
build turns the tree into the typed settings, discovery finds the file, and manager is the
seed's ConfigManager facade over all of it.
"""

from .build import build_settings
from .config_error import ConfigError
from .discovery import config_here, find_config, load_settings, user_config_path
from .manager import ConfigManager
from .settings import (
    APIS,
    DEFAULT_BASE_URL,
    DEFAULT_MODELS,
    ENV_CONFIG,
    OLLAMA_OPTION_KEYS,
    ROLES,
    STRATEGIES,
    Cooldown,
    Endpoint,
    FixSettings,
    GenerateSettings,
    RoleSettings,
    Routing,
    Settings,
    Strategy,
    Timeouts,
)
from .validation import check_url

__all__ = [
    "APIS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODELS",
    "ENV_CONFIG",
    "OLLAMA_OPTION_KEYS",
    "ROLES",
    "STRATEGIES",
    "ConfigError",
    "ConfigManager",
    "Cooldown",
    "Endpoint",
    "FixSettings",
    "GenerateSettings",
    "RoleSettings",
    "Routing",
    "Settings",
    "Strategy",
    "Timeouts",
    "build_settings",
    "check_url",
    "config_here",
    "find_config",
    "load_settings",
    "user_config_path",
]
