"""Whether a candidate still holds the original's asserts and tests, compared by `ast`.

An assert counts where it is: in the same function or class, in the same order there, where it
can run (not under a branch whose condition is a constant false, not after a `return`), and not
inside new code that catches its failure. A test counts by the last binding of its name, since
that is the one pytest collects. Pure functions over parsed modules.
"""

from __future__ import annotations

import ast
import builtins
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["lost_checks", "parse"]

Scope = tuple[str, ...]
_UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_ENDS_BLOCK = (ast.Return, ast.Raise, ast.Continue, ast.Break)
_TRIES = (ast.Try, getattr(ast, "TryStar", ast.Try))  # `except*` came with Python 3.11
_FALSE_NAMES = {"TYPE_CHECKING", "typing.TYPE_CHECKING"}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_SHOWN = 100


def parse(source: str) -> ast.Module | None:
    """The module `source` holds, or None when it does not parse."""
    try:
        return ast.parse(source)
    except _UNPARSABLE:
        return None


def lost_checks(original: ast.Module, candidate: ast.Module) -> str | None:
    """Why `candidate` no longer holds an assert or a test of `original`, or None."""
    return (
        _lost_tests(original.body, candidate.body, "", compare_bodies=False)
        or _lost_asserts(original, candidate)
        or _lost_tests(original.body, candidate.body, "", compare_bodies=True)
    )


# ---------------------------------------------------------------- where each statement is


@dataclass(frozen=True)
class _Place:
    scope: Scope = ()
    dead: bool = False  # never runs: a constant-false branch, after a return, a rebound def
    guards: int = 0  # enclosing code that catches an AssertionError raised here


def _walk(
    body: list[ast.stmt], place: _Place, last: dict[str, ast.stmt | None]
) -> Iterator[tuple[ast.stmt, _Place]]:
    """Every statement under `body`, in source order, with where it is."""
    stopped = False
    for node in body:
        here = replace(place, dead=place.dead or stopped)
        yield node, here
        if isinstance(node, _DEFINITIONS):
            rebound = last.get(node.name) is not node
            inner = _Place((*here.scope, node.name), here.dead or rebound, 0)
            yield from _walk(node.body, inner, last_bindings(node.body))
        else:
            for block, block_place in _blocks(node, here):
                yield from _walk(block, block_place, last)
        stopped = stopped or isinstance(node, _ENDS_BLOCK)


def _blocks(node: ast.stmt, place: _Place) -> list[tuple[list[ast.stmt], _Place]]:
    """The blocks of statements a compound statement holds (not a definition's body)."""
    if isinstance(node, (ast.If, ast.While)):
        truth = _truth(node.test)
        return [
            (node.body, replace(place, dead=place.dead or truth is False)),
            (node.orelse, replace(place, dead=place.dead or truth is True)),
        ]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return [(node.body, place), (node.orelse, place)]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        catches = any(_suppresses(item.context_expr) for item in node.items)
        return [(node.body, replace(place, guards=place.guards + catches))]
    if isinstance(node, _TRIES):
        swallows = _swallowing(node)
        blocks = [(node.body, replace(place, guards=place.guards + swallows))]
        blocks.extend((handler.body, place) for handler in node.handlers)
        return [*blocks, (node.orelse, place), (node.finalbody, place)]
    if isinstance(node, ast.Match):
        return [(case.body, place) for case in node.cases]
    return []


def last_bindings(body: list[ast.stmt]) -> dict[str, ast.stmt | None]:
    """The statement that binds each name last in this scope (None: it deletes the name)."""
    last: dict[str, ast.stmt | None] = {}
    for node in _scope_statements(body):
        for name in _bound_names(node):
            last[name] = node
        if isinstance(node, ast.Delete):
            for name in _target_names(node.targets):
                last[name] = None
    return last


def _scope_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The live statements of one scope, blocks included, definitions' bodies not."""
    place = _Place()
    for node in body:
        yield node
        if isinstance(node, _DEFINITIONS):
            continue
        for block, block_place in _blocks(node, place):
            if not block_place.dead:
                yield from _scope_statements(block)
        if isinstance(node, _ENDS_BLOCK):
            return


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, _DEFINITIONS):
        return [node.name]
    if isinstance(node, ast.Assign):
        return _target_names(node.targets)
    if isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
        return _target_names([node.target])
    if isinstance(node, ast.AnnAssign):
        return _target_names([node.target]) if node.value is not None else []
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return _target_names([item.optional_vars for item in node.items if item.optional_vars])
    return []


def _target_names(targets: list[ast.expr]) -> list[str]:
    names: list[str] = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            names.extend(_target_names(list(target.elts)))
        elif isinstance(target, ast.Starred):
            names.extend(_target_names([target.value]))
    return names


def _truth(test: ast.expr) -> bool | None:
    """The truth of a condition that is a constant (`False`, `0`, `not True`, `1 == 2`)."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _truth(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.BoolOp):
        values = [_truth(value) for value in test.values]
        decisive = isinstance(test.op, ast.Or)  # True decides an `or`, False an `and`
        if decisive in values:
            return decisive
        return (not decisive) if all(value is not None for value in values) else None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _constant_comparison(test)
    return False if dotted_name(test) in _FALSE_NAMES else None


def _constant_comparison(test: ast.Compare) -> bool | None:
    left, right = test.left, test.comparators[0]
    compare = _COMPARE.get(type(test.ops[0]))
    if compare is None or not isinstance(left, ast.Constant) or not isinstance(right, ast.Constant):
        return None
    try:
        return bool(compare(left.value, right.value))
    except TypeError:
        return None


def dotted_name(node: ast.expr) -> str | None:
    """`os.path.join` for that attribute chain, `exit` for a name; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _catches_assertion(kind: ast.expr | None) -> bool:
    """Whether `except kind:` catches an AssertionError (a bare `except:` does)."""
    if kind is None:
        return True
    if isinstance(kind, ast.Tuple):
        return any(_catches_assertion(element) for element in kind.elts)
    name = dotted_name(kind)
    known = getattr(builtins, name.rsplit(".", 1)[-1], None) if name else None
    return isinstance(known, type) and issubclass(AssertionError, known)


def _swallowing(node: ast.Try) -> bool:
    """A `try` whose handlers catch an assert's failure without raising again, or whose
    `finally` leaves with `return`, `break` or `continue` (that drops the error too)."""
    for handler in node.handlers:
        raises = bool(handler.body) and isinstance(handler.body[-1], ast.Raise)
        if _catches_assertion(handler.type) and not raises:
            return True
    leaves = (ast.Return, ast.Break, ast.Continue)
    return any(isinstance(child, leaves) for child in _scope_statements(node.finalbody))


def _suppresses(context: ast.expr) -> bool:
    """`contextlib.suppress(AssertionError)`, `pytest.raises(AssertionError)` and the like."""
    if not isinstance(context, ast.Call):
        return False
    name = dotted_name(context.func) or ""
    if name.rsplit(".", 1)[-1] not in {"suppress", "raises"}:
        return False
    return any(_catches_assertion(argument) for argument in context.args)


# ---------------------------------------------------------------- asserts


@dataclass(frozen=True)
class _Assert:
    key: str
    place: _Place
    node: ast.Assert


def _asserts(tree: ast.Module) -> dict[Scope, list[_Assert]]:
    found: dict[Scope, list[_Assert]] = {}
    for node, place in _walk(tree.body, _Place(), last_bindings(tree.body)):
        if isinstance(node, ast.Assert):
            found.setdefault(place.scope, []).append(_Assert(ast.dump(node), place, node))
    return found


def _holds(old: _Place, new: _Place) -> bool:
    return (old.dead or not new.dead) and new.guards <= old.guards


def _lost_asserts(original: ast.Module, candidate: ast.Module) -> str | None:
    """The first assert of `original` the candidate does not keep where it was, as a phrase."""
    after = _asserts(candidate)
    for scope, old in _asserts(original).items():
        new = after.get(scope, [])
        index = 0
        for check in old:
            while index < len(new) and not (
                new[index].key == check.key and _holds(check.place, new[index].place)
            ):
                index += 1
            if index == len(new):
                return _assert_phrase(check, new, after)
            index += 1
    return None


def _assert_phrase(
    check: _Assert, same_scope: list[_Assert], anywhere: dict[Scope, list[_Assert]]
) -> str:
    text = ast.unparse(check.node)
    shown = f"`{text if len(text) <= _SHOWN else text[: _SHOWN - 1] + '…'}`"
    twins = [item for item in same_scope if item.key == check.key]
    if any(item.place.dead and not check.place.dead for item in twins):
        return f"it put the program's own check {shown} where it never runs"
    if any(item.place.guards > check.place.guards for item in twins):
        return f"it wrapped the program's own check {shown} in code that catches its failure"
    moved = twins or any(item.key == check.key for items in anywhere.values() for item in items)
    if moved:
        return f"it moved the program's own check {shown} from where it was"
    return f"it changed or removed the program's own check {shown}"


# ---------------------------------------------------------------- tests


def _lost_tests(
    original: list[ast.stmt], candidate: list[ast.stmt], prefix: str, *, compare_bodies: bool
) -> str | None:
    """The first test (`test*` function, `Test*` class's test) not kept as its last binding;
    with `compare_bodies`, also one whose code changed."""
    after = last_bindings(candidate)
    for name, old in last_bindings(original).items():
        if isinstance(old, _FUNCTIONS) and name.startswith("test"):
            new = after.get(name)
            problem = _lost_test(old, new, candidate, f"{prefix}{name}()")
            changed = new is not None and ast.dump(old) != ast.dump(new)
            if problem is None and compare_bodies and changed:
                problem = f"it changed the test {prefix}{name}()"
        elif isinstance(old, ast.ClassDef) and name.startswith("Test"):
            new = after.get(name)
            problem = _lost_test(old, new, candidate, f"the test class {prefix}{name}")
            if problem is None and isinstance(new, ast.ClassDef):
                inner = f"{prefix}{name}."
                problem = _lost_tests(old.body, new.body, inner, compare_bodies=compare_bodies)
        else:
            continue
        if problem is not None:
            return problem
    return None


def _lost_test(
    old: ast.stmt, new: ast.stmt | None, candidate: list[ast.stmt], shown: str
) -> str | None:
    """Why the last binding `new` of a test's name no longer is the test `old`, or None."""
    what = shown if isinstance(old, ast.ClassDef) else f"the test {shown}"
    if new is None:
        return f"it removed {what}"
    if type(new) is not type(old) or getattr(new, "name", None) != getattr(old, "name", None):
        line = ast.unparse(new).splitlines()[0]
        return f"it replaced {what} with `{line[:_SHOWN]}`"
    if ast.dump(new) != ast.dump(old) and _shadowed(old, new, candidate):
        return f"it replaced {what} with a later definition of that name"
    return None


def _shadowed(old: ast.stmt, new: ast.stmt, candidate: list[ast.stmt]) -> bool:
    """The original definition is still there, with another one after it."""
    kept = ast.dump(old)
    return any(n is not new and ast.dump(n) == kept for n in _scope_statements(candidate))
