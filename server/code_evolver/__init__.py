"""Code Evolver: a language server that fixes and writes code with local models."""

from .cancel import Cancelled, CancelToken
from .config import ConfigError, ConfigManager, Settings
from .llm import AllEndpointsFailed, LLMError, OllamaClient

__version__ = "0.1.0"

__all__ = [
    "AllEndpointsFailed",
    "CancelToken",
    "Cancelled",
    "ConfigError",
    "ConfigManager",
    "LLMError",
    "OllamaClient",
    "Settings",
    "__version__",
]
