"""New skips, early exits and silencing comments in a candidate: weakening by rule, each said.

A reply that skips a test, ends the program before the failing code runs, or tells a checker to
look away has fixed nothing, however cleanly the run ends. Each is counted where it is (the
function or class around it), so what the original already had stays allowed.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .check_structure import Scope, dotted_name

__all__ = ["comments", "new_marker", "silenced"]

_SKIP_ROOTS = {"pytest", "unittest", "_pytest"}
_SKIPS = {
    "skip": "skip",
    "skipif": "skip",
    "skipIf": "skip",
    "skipUnless": "skip",
    "importorskip": "skip",
    "SkipTest": "skip",
    "Skipped": "skip",
    "xfail": "xfail",
    "expectedFailure": "xfail",
}
_EXITS = {
    "sys.exit",
    "exit",
    "quit",
    "builtins.exit",
    "builtins.quit",
    "os._exit",
    "posix._exit",
    "os.abort",
    "os.killpg",
    "signal.raise_signal",
}
_SILENCERS = (
    (re.compile(r"#\s*(?:ruff|flake8)\s*:\s*noqa\b", re.IGNORECASE), "ruff"),
    (re.compile(r"#\s*noqa\b", re.IGNORECASE), "ruff"),
    (re.compile(r"#\s*type\s*:\s*ignore\b"), "mypy"),
    (re.compile(r"#\s*mypy\s*:\s*(?:ignore-errors|disable-error-code)\b"), "mypy"),
    (re.compile(r"#\s*pyright\s*:\s*(?:ignore|basic|off)\b"), "Pyright"),
    (re.compile(r"#\s*pylint\s*:\s*disable"), "pylint"),
)


@dataclass(frozen=True)
class _Marker:
    kind: str  # "skip", "xfail" or "exit"
    scope: Scope
    key: str  # the node without positions: the same call in the same place is the same marker
    text: str
    subject: str  # the test or function it is in or decorates, "Test.test_x"; "" at top level
    shown: str


def new_marker(original: ast.Module | str, candidate: ast.Module) -> str | None:
    """The first skip, xfail or early exit `candidate` has and `original` did not, as a phrase.

    An `original` that does not parse comes as its text: a marker counts as new when its code
    does not occur in that text.
    """
    found = _Markers(candidate).collect()
    if isinstance(original, str):
        squeezed = _squeeze(original)
        new = [marker for marker in found if _squeeze(marker.text) not in squeezed]
        return _phrase(new[0]) if new else None
    remaining = Counter((m.kind, m.scope, m.key) for m in _Markers(original).collect())
    for marker in found:
        key = (marker.kind, marker.scope, marker.key)
        if remaining[key] == 0:
            return _phrase(marker)
        remaining[key] -= 1
    return None


def silenced(original: str, code: str) -> str | None:
    """The first suppression comment (`# noqa`, `# type: ignore`...) in `code` that `original`
    does not have as many times, as a phrase; None when there is none."""
    remaining = Counter(" ".join(text.split()) for text in comments(original) if _silencer(text))
    for text in comments(code):
        tool = _silencer(text)
        if tool is None:
            continue
        key = " ".join(text.split())
        if remaining[key] == 0:
            return f"it silences {tool} with `{text.strip()}` instead of fixing the code"
        remaining[key] -= 1
    return None


def comments(source: str) -> Sequence[str]:
    """The comments of `source` in order (by tokens; by `#` when it does not tokenize)."""
    try:
        return [
            token.string
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return re.findall(r"#.*", source)


def _silencer(comment: str) -> str | None:
    return next((tool for pattern, tool in _SILENCERS if pattern.search(comment)), None)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _phrase(marker: _Marker) -> str:
    if marker.kind == "exit":
        where = f"in {marker.subject}()" if marker.subject else "at the top level"
        return f"it ends the program early with {marker.shown} {where} instead of fixing the code"
    subject, last = marker.subject, marker.subject.rsplit(".", 1)[-1]
    them = "them"
    if last.startswith("test"):
        what, them = f"the test {subject}()", "it"
    elif last.startswith("Test"):
        what = f"the tests of {subject}"
    elif subject:
        what = f"the tests that reach {subject}() with `{marker.shown}`"
    else:
        what = f"the tests with `{marker.shown}` at the top level of the file"
    if marker.kind == "xfail":
        return f"it marks {what} as expected to fail instead of making {them} pass"
    return f"it skips {what} instead of making {them} pass"


class _Markers(ast.NodeVisitor):
    """The skips, xfails and exits of one module, in source order."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.aliases = _aliases(tree)
        self.closing = _closing_exit(tree)
        self.scope: list[str] = []
        self.subject: str | None = None
        self.found: list[_Marker] = []

    def collect(self) -> list[_Marker]:
        self.visit(self.tree)
        return self.found

    def _names(self, node: ast.expr) -> tuple[str, str] | None:
        """(the name as written, the name with its imports resolved), or None."""
        written = dotted_name(node)
        if written is None:
            return None
        root, dot, rest = written.partition(".")
        return written, self.aliases.get(root, root) + dot + rest

    def _add(self, kind: str, node: ast.AST, shown: str) -> None:
        subject = self.subject if self.subject is not None else ".".join(self.scope)
        text = ast.unparse(node)
        self.found.append(_Marker(kind, tuple(self.scope), ast.dump(node), text, subject, shown))

    def _definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.subject = ".".join([*self.scope, node.name])
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.subject = None
        if isinstance(node, ast.ClassDef):
            for header in [*node.bases, *node.keywords]:
                self.visit(header)
        else:
            self.visit(node.args)
        self.scope.append(node.name)
        for statement in node.body:
            self.visit(statement)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._definition(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._definition(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._definition(node)

    def visit_Call(self, node: ast.Call) -> None:
        names = self._names(node.func)
        kind = self._call_kind(names[1], node) if names is not None else None
        if kind is None or id(node) in self.closing:
            self.generic_visit(node)
            return
        assert names is not None
        self._add(kind, node, f"{names[0]}()")
        for argument in [*node.args, *node.keywords]:
            self.visit(argument)

    def _call_kind(self, name: str, node: ast.Call) -> str | None:
        if name.endswith(".skipTest"):
            return "skip"
        if name in _EXITS:
            return "exit"
        if name == "os.kill" and node.args and isinstance(node.args[0], ast.Call):
            pid = self._names(node.args[0].func)
            return "exit" if pid is not None and pid[1] == "os.getpid" else None
        return _skip_kind(name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._reference(node)

    def visit_Name(self, node: ast.Name) -> None:
        self._reference(node)

    def _reference(self, node: ast.Attribute | ast.Name) -> None:
        """A marker used without a call: `@pytest.mark.skip`, `raise unittest.SkipTest`."""
        names = self._names(node)
        kind = _skip_kind(names[1]) if names is not None else None
        if kind is not None and names is not None:
            self._add(kind, node, names[0])
        elif isinstance(node, ast.Attribute):
            self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        names = self._names(raised) if raised is not None else None
        exits = names is not None and names[1].rsplit(".", 1)[-1] == "SystemExit"
        if exits and id(node) not in self.closing:
            self._add("exit", node, "`raise SystemExit`")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assignment(node, node.targets)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._assignment(node, [node.target])

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assignment(node, [node.target])

    def _assignment(
        self, node: ast.Assign | ast.AnnAssign | ast.AugAssign, targets: list[ast.expr]
    ) -> None:
        if any(isinstance(target, ast.Name) and target.id == "pytestmark" for target in targets):
            value = ast.unparse(node.value) if node.value is not None else ""
            self._add("xfail" if "xfail" in value else "skip", node, "pytestmark")
            return
        self.generic_visit(node)


def _skip_kind(name: str) -> str | None:
    root, _, _ = name.partition(".")
    last = name.rsplit(".", 1)[-1]
    return _SKIPS.get(last) if root in _SKIP_ROOTS and last != root else None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """What each imported name stands for: `pt` -> `pytest`, `_exit` -> `os._exit`."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _closing_exit(tree: ast.Module) -> set[int]:
    """The exit that closes the file's last statement, an `if __name__ == "__main__":` block
    (`sys.exit(main())`): it ends nothing early, so a candidate may add it."""
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.If) or not _main_guard(last.test) or not last.body:
        return set()
    final = last.body[-1]
    if isinstance(final, ast.Expr) and isinstance(final.value, ast.Call):
        return {id(final.value)}
    return {id(final)} if isinstance(final, ast.Raise) else set()


def _main_guard(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    sides = [test.left, *test.comparators]
    names = [side.id for side in sides if isinstance(side, ast.Name)]
    texts = [side.value for side in sides if isinstance(side, ast.Constant)]
    return isinstance(test.ops[0], ast.Eq) and names == ["__name__"] and texts == ["__main__"]
