"""The one error a config problem raises: it names the file, the line and the key."""

from __future__ import annotations


class ConfigError(Exception):
    """A config problem the user must fix; the message names the file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        where = file or "config"
        if line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: {key}: " if key else f"{where}: "
        super().__init__(prefix + message)
