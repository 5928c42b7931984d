"""What can check a generated function: its file's run, names nothing defines, and which tests
of a run passed or failed, file by file (its docstring examples: doc_examples.py)."""

from __future__ import annotations

import builtins
import re
import symtable
from collections.abc import Iterator
from dataclasses import dataclass, field

from .checker import Check

# pytest's short summary (-rfEp): "PASSED tests/test_x.py::test_y[id]", "FAILED ... - reason",
# and "ERROR tests/test_x.py" when a file does not even collect.
_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR) ([^\s:]+)(?:::(\S+))?", re.MULTILINE)
# A name or an import the code needs and cannot find: such a function is never offered.
MISSING_NAME = re.compile(
    r"\b(NameError|UnboundLocalError|ImportError|ModuleNotFoundError): (.*)$", re.MULTILINE
)
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class FileResults:
    """The tests of one file in a run: the ids that passed and failed, and whether it loaded."""

    passed: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()
    loaded: bool = True


@dataclass
class Verdict:
    """One candidate judged: the new file when it may be offered, and what checked it."""

    code: str
    candidate: str | None = None  # the whole file with the candidate in place
    problem: str | None = None  # why it is rejected (and what the next attempt is shown)
    checked_by: list[str] = field(default_factory=list)  # e.g. "3 docstring example(s)"
    unchecked: str = ""  # when nothing checked it: why not
    after: Check | None = None
    examples_passed: int = 0  # ranks rejected candidates: the best one is shown next
    examples_unrun: str = ""  # why the examples could not run for any candidate, if so

    @property
    def verified(self) -> bool:
        return self.candidate is not None and bool(self.checked_by)


def run_problem(before: Check, after: Check) -> str | None:
    """Why the file's own run with the candidate is worse than before, if so."""
    if after.syntax_error:
        return after.syntax_error
    run = after.run
    if run is None or run.ok:
        return None
    if before.run is not None and not before.run.ok and before.summary == after.summary:
        return None  # failing as before, for a reason elsewhere in the file
    missing = missing_name(run.stderr)
    return f"{missing} when the file runs" if missing else after.details


def user_checks(before: Check, after: Check, verdict: Verdict) -> str | None:
    """The project's own tests: no test that passed before may fail; those that pass now and
    did not before go to `verdict.checked_by`."""
    was_by_file = results_by_file(before)
    for path, results in results_by_file(after).items():
        was = was_by_file.get(path, FileResults())
        broken = was.passed & results.failed
        if broken:
            return f"it breaks {', '.join(sorted(broken))} in {path}\n{after.details}"
        newly = results.passed - was.passed
        if newly and not results.failed:
            verdict.checked_by.append(f"{len(newly)} of your tests in {path}")
    return None


def results_by_file(check: Check) -> dict[str, FileResults]:
    """Per test file, the tests that passed and failed in `check`'s test run."""
    run = check.tests
    if run is None:
        return {}
    passed: dict[str, set[str]] = {}
    failed: dict[str, set[str]] = {}
    broken: set[str] = set()
    for outcome, path, test in _SUMMARY.findall(run.stdout):
        if not test:
            broken.add(path)
            continue
        (passed if outcome == "PASSED" else failed).setdefault(path, set()).add(test)
    output = run.stdout + run.stderr
    broken.update(m.group(1) for m in re.finditer(r"ERROR collecting (\S+)", output))
    return {
        path: FileResults(
            frozenset(passed.get(path, ())), frozenset(failed.get(path, ())), path not in broken
        )
        for path in set(passed) | set(failed) | broken
    }


def missing_name(output: str) -> str | None:
    """The first "NameError: name 'x' is not defined" (or ImportError) line in `output`."""
    match = MISSING_NAME.search(output)
    return f"{match.group(1)}: {match.group(2).strip()}" if match else None


def undefined_names(source: str, function: str) -> list[str]:
    """Names that `function` in `source` (or a function nested in it) reads as globals and
    that neither the module nor the builtins define: calling it would raise NameError.

    Empty when the source does not parse, has a star import, or lacks the function."""
    try:
        module = symtable.symtable(source, "<candidate>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    symbols = module.get_symbols()
    if any(s.get_name() == "*" for s in symbols):
        return []  # `from x import *`: anything may be defined
    defined = {s.get_name() for s in symbols if s.is_assigned() or s.is_imported()}
    defined |= _declared_global(module)
    found = [t for t in module.get_children() if t.get_name() == function]
    if not found:
        return []
    missing: list[str] = []
    for table in _tables(found[-1]):
        for symbol in table.get_symbols():
            name = symbol.get_name()
            if (
                symbol.is_global()
                and symbol.is_referenced()
                and name not in defined
                and name not in _BUILTINS
                and not (name.startswith("__") and name.endswith("__"))
                and name not in missing
            ):
                missing.append(name)
    return missing


def _tables(table: symtable.SymbolTable) -> Iterator[symtable.SymbolTable]:
    yield table
    for child in table.get_children():
        yield from _tables(child)


def _declared_global(module: symtable.SymbolTable) -> set[str]:
    """Names some function assigns after `global name`: the module has them once it ran."""
    names = set()
    for table in _tables(module):
        for symbol in table.get_symbols():
            if symbol.is_declared_global() and symbol.is_assigned():
                names.add(symbol.get_name())
    return names
