"""Whether a candidate fix is honest: it keeps the user's checks, and it did not hollow out code.

A run that ends cleanly is only evidence when the candidate still holds what the user wrote to
say what the program must do: its `assert`s and tests, the calls of its `__main__` block, the
output it printed before it failed, the functions the fix was not about. And a function that
now returns a constant, or nothing, has not been fixed, however cleanly it runs. Pure text
functions; Python only (other languages are not judged beyond running them).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable

from .check_markers import comments, new_marker
from .check_structure import lost_checks, parse
from .lines import split_lines

_ASSERT = re.compile(r"^\s*assert\b")
_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)\s*\(", re.MULTILINE)
_MAIN_GUARD = re.compile(r"""^if\s+__name__\s*==\s*['"]__main__['"]\s*:""")
_CALL = re.compile(r"\b([A-Za-z_][\w.]*)\s*\(")
_RETURN_VALUE = re.compile(r"^\s*return\s+(?!None\s*(?:#.*)?$)\S", re.MULTILINE)
_Function = ast.FunctionDef | ast.AsyncFunctionDef


def weakened(original: str, candidate: str, *, language: str = "python") -> str | None:
    """Why `candidate` weakens the checks `original` holds, in one phrase; None when it does not."""
    if language != "python":
        return None
    before, after = parse(original), parse(candidate)
    if after is not None:
        problem = new_marker(original if before is None else before, after)
        if problem is None and before is not None:
            problem = lost_checks(before, after)
        if problem is not None:
            return problem
    # Either side does not parse (a syntax error the fix is about): its checks by their lines.
    by_lines = (_lost_asserts, _lost_tests) if before is None or after is None else ()
    for check in (*by_lines, _lost_main_calls):
        problem = check(original, candidate)
        if problem is not None:
            return problem
    return None


def hollowed(original: str, candidate: str, names: Iterable[str]) -> str | None:
    """Why one of the functions `names` stopped doing its work, or None.

    A function whose body shrank to `pass`, `...`, a constant or nothing is not a fix; one that
    returned a value must still return one.
    """
    before = _functions(original)
    after = _functions(candidate)
    for name in names:
        new = after.get(name)
        if new is None:
            continue
        old = before.get(name)
        old_text = _function_text(original, name) if old is None else None
        if _trivial(new) and (old is None or not _trivial(old)):
            return f"it reduced {name}() to {_shape(new)}"
        returned = _returns_value(old) if old is not None else _text_returns(old_text)
        if returned and not _returns_value(new):
            return f"{name}() no longer returns a value"
    return None


def changed_functions(original: str, candidate: str) -> list[str]:
    """Top-level functions and classes whose code differs between the two versions."""
    before = _top_level_sources(original)
    after = _top_level_sources(candidate)
    return [name for name, text in before.items() if name in after and after[name] != text]


def drop_added_comments(original: str, code: str) -> str:
    """`code` without the comments that `original` does not have.

    Weak models annotate their answers with prose ("# your code is completed with no
    explanation after this line"); the user's own comments are kept.
    """
    kept = {text.strip() for text in comments(original)}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    cuts: dict[int, int] = {}
    for token in tokens:
        if token.type == tokenize.COMMENT and token.string.strip() not in kept:
            cuts[token.start[0]] = token.start[1]
    if not cuts:
        return code
    out = []
    for number, line in enumerate(split_lines(code, keepends=True), start=1):
        column = cuts.get(number)
        if column is None:
            out.append(line)
            continue
        head = line[:column].rstrip()
        if head:
            ending = line[len(line.rstrip("\r\n")) :]
            out.append(head + ending)
    return "".join(out)


# ---------------------------------------------------------------- the user's checks


def _lost_asserts(original: str, candidate: str) -> str | None:
    old = _assert_lines(original)
    new = set(_assert_lines(candidate))
    lost = [line for line in old if line not in new]
    if lost:
        return f"it changed or removed the program's own check `{lost[0]}`"
    return None


def _assert_lines(source: str) -> list[str]:
    return [" ".join(line.split()) for line in split_lines(source) if _ASSERT.match(line)]


def _lost_tests(original: str, candidate: str) -> str | None:
    new = set(_TEST_DEF.findall(candidate))
    for name in _TEST_DEF.findall(original):
        if name not in new:
            return f"it removed the test {name}()"
        if _function_text(original, name) != _function_text(candidate, name):
            return f"it changed the test {name}()"
    return None


def _lost_main_calls(original: str, candidate: str) -> str | None:
    old = _main_calls(original)
    if not old:
        return None
    new = set(_main_calls(candidate))
    lost = [name for name in old if name not in new]
    if lost:
        return f"it dropped the call of {lost[0]}() from the `__main__` block"
    return None


def _main_calls(source: str) -> list[str]:
    """Names called in the `if __name__ == "__main__":` block, in order."""
    lines = split_lines(source)
    calls: list[str] = []
    inside = False
    for line in lines:
        if _MAIN_GUARD.match(line):
            inside = True
            continue
        if inside and line.strip() and not line[:1].isspace() and not line.startswith("#"):
            inside = False
        if inside:
            code = line.split("#", 1)[0]
            calls.extend(name for name in _CALL.findall(code) if name not in calls)
    return calls


# ---------------------------------------------------------------- functions


def _functions(source: str) -> dict[str, _Function]:
    """Every function of `source` by name (methods too; the last of a name wins)."""
    tree = parse(source)
    if tree is None:
        return {}
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def _body(node: _Function) -> list[ast.stmt]:
    body = list(node.body)
    first = body[0] if body else None
    docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    return body[1:] if docstring else body


def _trivial(node: _Function) -> bool:
    body = _body(node)
    if not body:
        return True
    if len(body) != 1:
        return False
    only = body[0]
    if isinstance(only, ast.Pass):
        return True
    if isinstance(only, ast.Expr) and isinstance(only.value, ast.Constant):
        return True
    return isinstance(only, ast.Return) and (
        only.value is None or isinstance(only.value, ast.Constant)
    )


def _shape(node: _Function) -> str:
    body = _body(node)
    return f"`{ast.unparse(body[0])}`" if body else "a docstring alone"


def _returns_value(node: _Function) -> bool:
    for child in _walk_own(node):
        value = child.value if isinstance(child, ast.Return) else None
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            return True
    return False


def _walk_own(node: _Function) -> Iterable[ast.AST]:
    """The nodes of a function, not of the functions and classes defined inside it."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(child))


def _text_returns(text: str | None) -> bool:
    return bool(text) and _RETURN_VALUE.search(text or "") is not None


def _function_text(source: str, name: str) -> str | None:
    """The lines of the function `name` by indentation (works on files that do not parse)."""
    lines = split_lines(source)
    pattern = re.compile(rf"^(?P<indent>\s*)(?:async\s+)?def\s+{re.escape(name)}\s*\(")
    for start, line in enumerate(lines):
        match = pattern.match(line)
        if match is None:
            continue
        width = len(match["indent"])
        end = start + 1
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > width
        ):
            end += 1
        return "\n".join(item.rstrip() for item in lines[start:end]).rstrip()
    return None


def _top_level_sources(source: str) -> dict[str, str]:
    tree = parse(source)
    if tree is None:
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = ast.dump(node, include_attributes=False)
    return out
