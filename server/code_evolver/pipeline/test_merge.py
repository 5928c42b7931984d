"""The model's tests appended to a user's test file without shadowing anything of the user's:
a test named like one of theirs is renamed, anything else that would rebind one of their names
is refused, by the module's last bindings (`ast`), never by lines of text."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .lines import split_lines

_SUFFIX = "_generated"
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class MergedTests:
    """The test file with the model's tests appended, or why they cannot be."""

    content: str | None  # the whole new test file; None when refused
    tests: str  # the model's tests as appended, renames applied
    renamed: tuple[tuple[str, str], ...] = ()  # (the model's name, the name it got)
    problem: str | None = None  # why nothing may be written

    @property
    def names(self) -> frozenset[str]:
        """The module-level names the appended tests bind (as pytest's ids begin)."""
        return frozenset(_bound_names(self.tests))

    def renames_said(self) -> str:
        """'; renamed test_x to test_x_generated, as tests/test_m.py already has test_x'."""
        if not self.renamed:
            return ""
        pairs = [f"{old} to {new}" for old, new in self.renamed]
        listed = pairs[0] if len(pairs) == 1 else ", ".join(pairs[:-1]) + " and " + pairs[-1]
        olds = ", ".join(old for old, _ in self.renamed)
        return f"; renamed {listed}, as the file already has {olds}"


def merge_tests(existing: str | None, tests: str, rel: str) -> MergedTests:
    """`tests` appended to `existing` (the file at `rel`, None when there is none yet)."""
    tests = tests.strip() + "\n"
    if not existing or not existing.strip():
        return MergedTests(tests, tests)
    try:
        theirs = _last_bindings(ast.parse(existing))
        ours = ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # Nothing to compare by: the run of the whole file says what is wrong.
        return MergedTests(existing.rstrip() + "\n\n\n" + tests, tests)
    taken = set(theirs) | set(_bound_names(tests))
    renames: list[tuple[str, str, int]] = []  # (old, new, line of the def)
    for name, node in _bindings(ours):
        if name == "pytestmark":
            return _refused(
                tests, f"the model's tests set pytestmark, which would apply to your tests in {rel}"
            )
        if name not in theirs or _same_import(node, theirs[name], name):
            continue
        if not _renamable(node, name) or _referenced(ours, name) or not isinstance(node, _DEFS):
            return _refused(
                tests,
                f"the model's tests bind {name} again, which {rel} already has: appended, "
                "theirs would replace yours",
            )
        new = _fresh(name, taken)
        taken.add(new)
        renames.append((name, new, node.lineno))
    renamed = _renamed(tests, renames)
    if renamed is None:
        return _refused(tests, f"the model's tests could not be renamed apart from those in {rel}")
    pairs = tuple((old, new) for old, new, _ in renames)
    return MergedTests(existing.rstrip() + "\n\n\n" + renamed, renamed, pairs)


def _refused(tests: str, problem: str) -> MergedTests:
    return MergedTests(None, tests, problem=problem)


def _bindings(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """Every module-level binding, in order: defs, classes, imports and assigned names, also
    inside module-level `if`, `try`, `with` and loops, never inside a function or class."""

    def walk(statements: list[ast.stmt]) -> Iterator[tuple[str, ast.AST]]:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield node.name, node
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name != "*":
                        yield (alias.asname or alias.name.split(".")[0]), node
            else:
                for child in _stores(node):
                    yield child, node
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        yield from walk([s for s in inner if isinstance(s, ast.stmt)])
                for handler in getattr(node, "handlers", None) or ():
                    yield from walk(handler.body)

    return walk(tree.body)


def _stores(node: ast.stmt) -> Iterator[str]:
    """The names a simple statement (or a compound one's header) assigns."""
    heads: list[ast.AST] = []
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        heads = [node]
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        heads = [node.target, node.iter]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        heads = list(node.items)
    elif isinstance(node, (ast.If, ast.While)):
        heads = [node.test]
    elif isinstance(node, ast.Expr):
        heads = [node.value]
    for head in heads:
        for child in ast.walk(head):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                yield child.id


def _last_bindings(tree: ast.Module) -> dict[str, ast.AST]:
    return dict(_bindings(tree))


def _bound_names(tests: str) -> list[str]:
    try:
        return [name for name, _ in _bindings(ast.parse(tests))]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []


def _same_import(ours: ast.AST, theirs: ast.AST, name: str) -> bool:
    """Both bind `name` to the same import: appending it again changes nothing."""
    return (
        isinstance(ours, (ast.Import, ast.ImportFrom))
        and isinstance(theirs, (ast.Import, ast.ImportFrom))
        and _imported(ours, name) == _imported(theirs, name)
    )


def _imported(node: ast.Import | ast.ImportFrom, name: str) -> tuple[str, ...] | None:
    module, level = "", ""
    if isinstance(node, ast.ImportFrom):
        module, level = node.module or "", str(node.level or 0)
    for alias in node.names:
        if (alias.asname or alias.name.split(".")[0]) == name:
            return (level, module, alias.name if alias.asname else alias.name.split(".")[0])
    return None


def _renamable(node: ast.AST, name: str) -> bool:
    """A test pytest collects by its name: a `test...` function or a `Test...` class."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return name.startswith("test")
    return isinstance(node, ast.ClassDef) and name.startswith("Test")


def _referenced(tree: ast.Module, name: str) -> bool:
    """Whether the tests read `name` anywhere: renaming only its def would change what they read."""
    return any(
        isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Store)
        for node in ast.walk(tree)
    )


def _fresh(name: str, taken: set[str]) -> str:
    candidate, number = name + _SUFFIX, 2
    while candidate in taken:
        candidate, number = f"{name}{_SUFFIX}_{number}", number + 1
    return candidate


def _renamed(tests: str, renames: list[tuple[str, str, int]]) -> str | None:
    """`tests` with each def's name changed on its own line; None when a line is not the plain
    `def name`/`class name` it should be."""
    lines = split_lines(tests, keepends=True)
    for old, new, line in renames:
        text = lines[line - 1]
        pattern = rf"^(\s*(?:async\s+def|def|class)\s+){re.escape(old)}\b"
        changed, count = re.subn(pattern, rf"\g<1>{new}", text)  # `new` is an identifier
        if count != 1:
            return None
        lines[line - 1] = changed
    return "".join(lines)
