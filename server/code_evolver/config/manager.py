"""ConfigManager: the config as the seed's API and the rest of the program see it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .discovery import load_settings
from .settings import RoleSettings, Settings


class ConfigManager:
    """The config as the rest of the program (and the seed's API) sees it."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
        *,
        discover: bool = True,
        settings: Settings | None = None,
    ) -> None:
        self.settings = (
            settings if settings is not None else load_settings(path, overrides, discover=discover)
        )

    @classmethod
    def defaults(cls) -> ConfigManager:
        return cls(discover=False)

    def with_overrides(self, overrides: Mapping[str, Any]) -> ConfigManager:
        return (
            ConfigManager(self.settings.source, overrides, discover=False)
            if self.settings.source
            else ConfigManager(overrides=overrides, discover=False)
        )

    @property
    def source(self) -> str | None:
        return self.settings.source

    @property
    def ollama_url(self) -> str:
        return self.settings.base_url

    @property
    def generator_model(self) -> str:
        return self.settings.role("generator").model

    @property
    def overseer_model(self) -> str:
        return self.settings.role("overseer").model

    @property
    def evaluator_model(self) -> str:
        return self.settings.role("evaluator").model

    def get_model_endpoints(self, role: str) -> list[str]:
        return self.settings.role(role).urls

    def role(self, role: str) -> RoleSettings:
        return self.settings.role(role)

    def replace(self, **changes: Any) -> ConfigManager:
        return ConfigManager(settings=replace(self.settings, **changes))
