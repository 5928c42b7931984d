"""Which language a name means (an editor's language id, a fence's info string), and its parser.

Names are resolved through Pygments' lexer aliases, a maintained table that knows `js`, `ts`,
`py`, `sh`, `golang` and hundreds more, so a ```` ```js ```` fence in a reply for a
`javascript` file is JavaScript. Parsers are tree-sitter grammars from their official wheels.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from pygments.lexers import find_lexer_class_by_name
from pygments.util import ClassNotFound
from tree_sitter import Language, Parser

__all__ = ["canonical_language", "is_python", "parser_for", "same_language"]


@functools.lru_cache(maxsize=256)
def canonical_language(name: str) -> str:
    """The Pygments lexer name for `name` ("js" -> "JavaScript"), else `name` lower-cased."""
    name = name.strip()
    try:
        return str(find_lexer_class_by_name(name.lower()).name)
    except ClassNotFound:
        return name.lower()


def same_language(a: str, b: str) -> bool:
    return canonical_language(a) == canonical_language(b)


def is_python(name: str) -> bool:
    return canonical_language(name or "python") == "Python"


def _grammar(module: str, function: str = "language") -> Callable[[], Any]:
    def load() -> Any:
        return getattr(importlib.import_module(module), function)()

    return load


# Pygments' name of a language -> the tree-sitter grammar that parses it.
_GRAMMARS: dict[str, Callable[[], Any]] = {
    "JavaScript": _grammar("tree_sitter_javascript"),
    "JSX": _grammar("tree_sitter_javascript"),
    "TypeScript": _grammar("tree_sitter_typescript", "language_typescript"),
    "TSX": _grammar("tree_sitter_typescript", "language_tsx"),
    "Go": _grammar("tree_sitter_go"),
    "Rust": _grammar("tree_sitter_rust"),
    "Java": _grammar("tree_sitter_java"),
    "C": _grammar("tree_sitter_c"),
    "Bash": _grammar("tree_sitter_bash"),
}


@functools.lru_cache(maxsize=32)
def _language(canonical: str) -> Language | None:
    load = _GRAMMARS.get(canonical)
    return Language(load()) if load is not None else None


def parser_for(name: str) -> Parser | None:
    """A fresh tree-sitter parser for the language `name`, or None when none is installed."""
    language = _language(canonical_language(name))
    return Parser(language) if language is not None else None
