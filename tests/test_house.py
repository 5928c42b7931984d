"""The house rules ARCHITECTURE.md promises: small modules, simple functions, one name each."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from radon.complexity import cc_visit

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "code_evolver"
MAX_LINES = 450
MAX_COMPLEXITY = 20


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_longer_than_a_sitting() -> None:
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (over {MAX_LINES} lines): {long}"


def test_no_function_is_more_complex_than_twenty() -> None:
    complex_ = {
        f"{path.relative_to(PACKAGE)}:{block.fullname}": block.complexity
        for path in _modules()
        for block in cc_visit(path.read_text(encoding="utf-8"))
        if block.complexity > MAX_COMPLEXITY
    }
    assert complex_ == {}, f"cyclomatic complexity over {MAX_COMPLEXITY}: {complex_}"


def test_no_two_modules_share_a_name() -> None:
    names = Counter(p.name for p in _modules() if p.name not in {"__init__.py", "__main__.py"})
    assert [name for name, count in names.items() if count > 1] == []
