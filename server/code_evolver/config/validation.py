"""Checking one mapping of the config key by key, with sentences that name file, line and key."""

from __future__ import annotations

import difflib
import math
from typing import Any
from urllib.parse import urlsplit

from .config_error import ConfigError
from .settings import DEFAULT_BASE_URL
from .yaml_tree import Node


class Section:
    """A mapping being validated: takes known keys, then complains about the rest."""

    def __init__(self, node: Node, path: str, file: str) -> None:
        self.path = path
        self.file = file
        self.line = node.line
        if node.value is None:
            node = Node({}, node.line)
        if not isinstance(node.value, dict):
            raise self.error(
                path or None, f"expected a mapping of keys, got {kind_of(node.value)}", node.line
            )
        self.items: dict[str, Node] = node.value
        self.seen: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str, line: int | None) -> ConfigError:
        return ConfigError(message, file=self.file, line=line, key=key)

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return key in self.items

    def node(self, key: str) -> Node | None:
        self.seen.add(key)
        return self.items.get(key)

    def section(self, key: str) -> Section:
        node = self.node(key)
        return Section(
            node if node is not None else Node({}, self.line), self.key_path(key), self.file
        )

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(
                self.key_path(key), f"expected a number, got {kind_of(value)}", node.line
            )
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.error(
                self.key_path(key), f"expected a finite number, got {kind_of(value)}", node.line
            )
        if number <= minimum:
            raise self.error(
                self.key_path(key), f"expected a number above {minimum:g}, got {value}", node.line
            )
        return number

    def integer(
        self, key: str, default: int, *, minimum: int = 1, maximum: int | None = None
    ) -> int:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(
                self.key_path(key), f"expected a whole number, got {kind_of(value)}", node.line
            )
        if value < minimum or (maximum is not None and value > maximum):
            bound = (
                f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            )
            raise self.error(
                self.key_path(key), f"expected a whole number {bound}, got {value}", node.line
            )
        return value

    def boolean(self, key: str, default: bool) -> bool:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        if not isinstance(node.value, bool):
            raise self.error(
                self.key_path(key), f"expected true or false, got {kind_of(node.value)}", node.line
            )
        return node.value

    def text(
        self, key: str, default: str | None, *, choices: tuple[str, ...] | None = None
    ) -> str | None:
        node = self.node(key)
        if node is None or node.value is None:
            return default
        if not isinstance(node.value, str) or not node.value.strip():
            raise self.error(
                self.key_path(key), f"expected text, got {kind_of(node.value)}", node.line
            )
        value = node.value.strip()
        if choices is not None and value not in choices:
            hint = closest(value, choices)
            raise self.error(
                self.key_path(key),
                f"expected one of {', '.join(choices)}, got {value!r}{hint}",
                node.line,
            )
        return value

    def argv(self, key: str, node: Node | None = None) -> tuple[str, ...] | None:
        node = node if node is not None else self.node(key)
        if node is None or node.value is None:
            return None
        items = node.value
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i.value, str) and i.value for i in items)
        ):
            raise self.error(
                self.key_path(key),
                'expected a non-empty list of arguments, e.g. ["python3", "{file}"] '
                "(commands never run through a shell)",
                node.line,
            )
        return tuple(i.value for i in items)

    def finish(self) -> None:
        for key, node in self.items.items():
            if key not in self.seen:
                hint = closest(key, sorted(self.seen))
                raise self.error(self.key_path(key), f"unknown key{hint}", node.line)


def closest(word: str, known: Any) -> str:
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a number)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def check_url(url: Any, *, key: str, file: str, line: int | None) -> str:
    """Return the URL without a trailing slash, or raise a ConfigError saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"expected a URL like {DEFAULT_BASE_URL!r}, got {kind_of(url)}",
            file=file,
            line=line,
            key=key,
        )
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError(f"{url!r} is not a valid URL", file=file, line=line, key=key) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{url!r} is not a full URL: it needs a scheme and a host, e.g. "
            f"'http://{url.split('://')[-1] or 'localhost:11434'}'",
            file=file,
            line=line,
            key=key,
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{url!r} has an invalid port", file=file, line=line, key=key) from None
    return url.rstrip("/")
