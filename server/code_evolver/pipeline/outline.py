"""The definitions a source holds (functions, classes, methods ...), found by a real parser.

Python goes through `ast`; every other language with a grammar through tree-sitter. Lines are
0-based and counted by LSP rules (pipeline/lines.py), whatever the parser counts itself.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from .languages import is_python, parser_for
from .lines import split_lines

__all__ = ["Definition", "Outline", "enclosing_definition", "outline"]

# What ast.parse raises on code it cannot take (a reply nested thousands deep included).
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)
# Top-level Python definitions by their first line, for sources that do not parse.
_TOP_DEFINITION = re.compile(r"(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)")
_BYTE_LINE_END = re.compile(rb"\r\n|\r|\n")

# tree-sitter node types that define something with a name, across the installed grammars.
_DEFINITIONS = frozenset(
    {
        "function_declaration", "generator_function_declaration", "function_definition",
        "function_item", "method_definition", "method_declaration", "constructor_declaration",
        "class_declaration", "abstract_class_declaration", "interface_declaration",
        "enum_declaration", "record_declaration", "type_alias_declaration", "type_declaration",
        "impl_item", "struct_item", "enum_item", "trait_item", "mod_item", "function_signature",
    }
)  # fmt: skip
# Values that make `const f = ...` a function definition.
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function"})
# Wrappers that belong to the definition they hold.
_WRAPPERS = frozenset({"export_statement", "decorated_definition"})
# Top-level statements a reply may carry besides definitions without replacing the file.
_PREAMBLE = ("import", "comment", "use_declaration", "preproc_include", "package_clause")


@dataclass(frozen=True)
class Definition:
    name: str  # qualified by the definitions around it: "Stats.mean"
    start: int  # first line, decorators and `export` included
    end: int  # last line, inclusive
    top: bool  # at the top level of the file


@dataclass(frozen=True)
class Outline:
    definitions: tuple[Definition, ...]
    other_statements: int  # top-level statements that are neither definitions nor preamble
    parsed: bool  # False: read by `def` lines only (Python that does not parse)

    def top_level(self) -> list[Definition]:
        return [d for d in self.definitions if d.top]

    def names(self) -> set[str]:
        return {d.name for d in self.definitions}


def outline(source: str, language: str) -> Outline | None:
    """The definitions in `source`, or None when no parser knows `language`."""
    if is_python(language):
        return _python_outline(source)
    parser = parser_for(language)
    if parser is None:
        return None
    data = source.encode("utf-8", "surrogatepass")
    root = parser.parse(data).root_node
    starts = [0, *(m.end() for m in _BYTE_LINE_END.finditer(data))]
    found: list[Definition] = []
    others = 0
    for child in root.named_children:
        before = len(found)
        _collect(child, starts, "", True, found)
        if len(found) == before and not child.type.startswith(_PREAMBLE):
            others += 1
    return Outline(tuple(found), others, True)


def enclosing_definition(source: str, line: int, language: str) -> tuple[int, int] | None:
    """The innermost definition around `line` (any language with a parser), else the top-level
    statement holding it; None when neither does (a blank line between them, say)."""
    found = outline(source, language)
    if found is None:
        return None
    around = [d for d in found.definitions if d.start <= line <= d.end]
    if around:
        best = max(around, key=lambda d: (d.start, -d.end))
        return best.start, best.end
    parser = parser_for(language)
    if parser is None:
        return None
    data = source.encode("utf-8", "surrogatepass")
    starts = [0, *(m.end() for m in _BYTE_LINE_END.finditer(data))]
    for child in parser.parse(data).root_node.named_children:
        first, last = _lines(child, starts)
        if first <= line <= last and not child.type.startswith("comment"):
            return first, last
    return None


# --- tree-sitter ------------------------------------------------------------------------------


def _collect(node: Node, starts: list[int], prefix: str, top: bool, out: list[Definition]) -> None:
    """Definitions in `node` and below, qualified by `prefix`, in source order.

    Walked with a stack of its own, not by recursion: a model's reply can nest thousands of
    levels deep (`1+1+1+...`), past Python's recursion limit.
    """
    stack: list[tuple[Node, str, bool]] = [(node, prefix, top)]
    while stack:
        current, where, at_top = stack.pop()
        found = next(iter(_definitions_at(current)), None)
        if found is not None:
            defining, span, name = found
            qualified = f"{where}.{name}" if where else name
            first, last = _lines(span, starts)
            out.append(Definition(qualified, first, last, at_top))
            children, where, at_top = defining.named_children, qualified, False
        else:
            children = current.named_children
        stack.extend((child, where, at_top) for child in reversed(children))


def _definitions_at(node: Node) -> Iterator[tuple[Node, Node, str]]:
    """(the defining node, the span it takes with its wrappers, its name) when `node` is one."""
    inner = node
    while inner.type in _WRAPPERS:
        held = inner.child_by_field_name("declaration") or inner.child_by_field_name("definition")
        if held is None:
            named = [c for c in inner.named_children if c.type not in ("decorator", "comment")]
            held = named[-1] if named else None
        if held is None:
            return
        inner = held
    if inner.type in _DEFINITIONS:
        name = _name_of(inner)
        if name:
            yield inner, node, name
        return
    if inner.type in ("lexical_declaration", "variable_declaration"):
        for declarator in inner.named_children:
            value = declarator.child_by_field_name("value")
            if value is not None and value.type in _FUNCTION_VALUES:
                name = _name_of(declarator)
                if name:
                    yield value, node, name
                    return


def _name_of(node: Node) -> str | None:
    target: Node | None = node.child_by_field_name("name")
    declarator = node.child_by_field_name("declarator")
    while target is None and declarator is not None:  # C: int *name(args)
        if declarator.type in ("identifier", "field_identifier"):
            target = declarator
        declarator = declarator.child_by_field_name("declarator")
    if target is None and node.type == "type_declaration":  # Go: type T struct{}
        spec = next((c for c in node.named_children if c.type == "type_spec"), None)
        target = spec.child_by_field_name("name") if spec is not None else None
    if target is None:  # Rust: impl Foo
        target = node.child_by_field_name("type")
    if target is None or target.text is None:
        return None
    return target.text.decode("utf-8", "replace")


def _lines(node: Node, starts: list[int]) -> tuple[int, int]:
    first = bisect.bisect_right(starts, node.start_byte) - 1
    last = bisect.bisect_right(starts, max(node.start_byte, node.end_byte - 1)) - 1
    return first, last


# --- Python -----------------------------------------------------------------------------------

_PythonDefinition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _python_outline(source: str) -> Outline:
    try:
        tree = ast.parse(source)
    except _UNPARSABLE:
        return _python_by_lines(source)
    found: list[Definition] = []
    others = 0
    for node in tree.body:
        if isinstance(node, _PythonDefinition):
            _python_collect(node, "", True, found)
        elif not isinstance(node, (ast.Import, ast.ImportFrom)):
            others += 1
    return Outline(tuple(found), others, True)


def _python_collect(node: _PythonDefinition, prefix: str, top: bool, out: list[Definition]) -> None:
    name = f"{prefix}.{node.name}" if prefix else node.name
    start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    out.append(Definition(name, start, (node.end_lineno or node.lineno) - 1, top))
    pending: list[ast.AST] = list(node.body)
    while pending:
        child = pending.pop(0)
        if isinstance(child, _PythonDefinition):
            _python_collect(child, name, False, out)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                pending.extend(getattr(child, field, None) or [])


def _python_by_lines(source: str) -> Outline:
    found = []
    for number, text in enumerate(split_lines(source)):
        match = _TOP_DEFINITION.match(text)
        if match is not None:
            found.append(Definition(match[1], number, number, True))
    return Outline(tuple(found), 0, False)
