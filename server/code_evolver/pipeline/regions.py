"""The region of a file the model rewrites, and putting its answer back in place.

Pure text functions: which lines a fix covers, splicing a reply into them (with the region's
indentation and the file's line endings), and merging a partial whole-file reply.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from ..values import Region
from .extract import leading_indent, reindent
from .stubs import enclosing_function

# What ast.parse raises on code it cannot take: a model's reply nested thousands deep raises
# MemoryError or RecursionError rather than SyntaxError.
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)
# Top-level definitions by their first line, for sources that do not parse.
_TOP_DEFINITION = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)


def choose_region(source: str, lines: Sequence[int], whole_file: bool) -> Region:
    """The enclosing function of the first diagnosed line, or the whole file."""
    count = max(len(source.splitlines()), 1)
    if not whole_file:
        for line in lines:
            span = enclosing_function(source, line)
            if span is not None:
                return Region(span[0], span[1], False)
    return Region(0, count - 1, True)


def splice(source: str, region: Region, code: str) -> str:
    """Put `code` in place of the region's lines, with the region's indentation."""
    lines = source.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if region.whole_file:
        text = code.rstrip("\n") + newline
        return text if source.endswith(("\n", "\r")) or not source else text.rstrip("\r\n")
    indent = leading_indent(lines[region.start]) if region.start < len(lines) else ""
    body = reindent(code, indent).rstrip("\n")
    body = newline.join(body.split("\n")) + newline
    return "".join(lines[: region.start]) + body + "".join(lines[region.end + 1 :])


def region_text(source: str, region: Region) -> str:
    lines = source.splitlines(keepends=True)
    return "".join(lines[region.start : region.end + 1])


def first_definition_name(code: str) -> str | None:
    try:
        tree = ast.parse(_dedented(code))
    except _UNPARSABLE:
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name
    return None


def defines_name(code: str, name: str) -> bool | None:
    """Whether `code` defines `name` at its top level; None when it does not parse."""
    try:
        tree = ast.parse(_dedented(code))
    except _UNPARSABLE:
        return None
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.name == name
        for node in tree.body
    )


def _dedented(code: str) -> str:
    return reindent(code, "")


def narrow_to_function(candidate: str, name: str | None) -> str:
    """When the model returned a whole file, keep only the function being replaced."""
    if not name:
        return candidate
    try:
        tree = ast.parse(_dedented(candidate))
    except _UNPARSABLE:
        return candidate
    defs = [
        n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    if len(tree.body) == 1 or not defs:
        return candidate
    lines = _dedented(candidate).splitlines()
    for node in defs:
        if node.name == name:
            start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            end = node.end_lineno or node.lineno
            return "\n".join(lines[start:end])
    return candidate


_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _top_level(source: str) -> dict[str, _Definition] | None:
    try:
        tree = ast.parse(source)
    except _UNPARSABLE:
        return None
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


def merge_definitions(source: str, code: str) -> str:
    """Apply a reply that holds only some of the file's functions to the whole file.

    Asked for a whole file, models often answer with just the function they changed; those
    definitions replace their namesakes and the rest of the file is kept.
    """
    try:
        tree = ast.parse(code)
    except _UNPARSABLE:
        return code.rstrip("\n") + "\n"
    original = _top_level(source)
    known = set(original) if original is not None else set(_TOP_DEFINITION.findall(source))
    replaced = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    partial = (
        bool(replaced)
        and all(
            isinstance(
                node,
                (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom),
            )
            for node in tree.body
        )
        and all(node.name in known for node in replaced)
    )
    if not partial:
        return code.rstrip("\n") + "\n"
    if original is None:  # the file does not parse (the syntax error being fixed)
        return _merge_by_indentation(source, tree, code)
    code_lines = code.splitlines()
    result = source
    for node in sorted(replaced, key=lambda n: original[n.name].lineno, reverse=True):
        old = original[node.name]
        start = min([d.lineno for d in old.decorator_list] + [old.lineno]) - 1
        new_start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
        text = "\n".join(code_lines[new_start : node.end_lineno])
        result = splice(result, Region(start, (old.end_lineno or old.lineno) - 1, False), text)
    return result


def _merge_by_indentation(source: str, tree: ast.Module, code: str) -> str:
    """merge_definitions for an original that does not parse: find its definitions by their
    `def` lines and indentation, and replace those the reply redefines."""
    code_lines = code.splitlines()
    result = source
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        match = next((m for m in _TOP_DEFINITION.finditer(result) if m[1] == node.name), None)
        span = (
            enclosing_function(result, result.count("\n", 0, match.start()))
            if match is not None
            else None
        )
        if span is None:
            continue
        new_start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
        text = "\n".join(code_lines[new_start : node.end_lineno])
        result = splice(result, Region(span[0], span[1], False), text)
    return result


def _top_level_names(source: str) -> list[str]:
    found = _top_level(source)
    return list(found) if found is not None else _TOP_DEFINITION.findall(source)


def lost_definitions(source: str, candidate: str) -> list[str]:
    """Top-level functions and classes of `source` that `candidate` no longer defines."""
    after = set(_top_level_names(candidate))
    return [f"{name}()" for name in _top_level_names(source) if name not in after]


def shifted_region(region: Region, old: str, new: str) -> Region:
    delta = len(new.splitlines()) - len(old.splitlines())
    return Region(region.start, region.end + delta, region.whole_file)


def region_context(source: str, region: Region, radius: int = 60) -> str:
    """Lines around the region, nearest first, for the model's reference."""
    lines = source.splitlines()
    before = lines[max(0, region.start - radius) : region.start]
    after = lines[region.end + 1 : region.end + 1 + radius]
    return "\n".join([*before, "# ... (the function being fixed goes here) ...", *after])
